"""Shared test set-up."""

from __future__ import annotations

from typing import Any
from unittest import mock

import aiohttp
import aioresponses.core


# aioresponses 0.7.9 builds ClientResponse objects without the `stream_writer`
# argument that aiohttp 3.14 requires ("ClientResponse.__init__() missing ...
# 'stream_writer'"): upstream issue pnuckowski/aioresponses#289, fixed by the
# unreleased PR #288. Remove this shim once a release with that fix is out.
class _ClientResponseWithStreamWriter(aiohttp.ClientResponse):
    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", mock.Mock(output_size=0))
        super().__init__(method, url, **kwargs)


aioresponses.core.ClientResponse = _ClientResponseWithStreamWriter  # type: ignore[misc]
