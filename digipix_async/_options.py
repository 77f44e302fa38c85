"""Per-call escape hatches: extra headers, query parameters and body fields.

A user can send what the SDK does not model yet, or correct a wire name, without
waiting for a release: ``extra_body`` is merged last into the JSON body (it wins
a clash), ``extra_query`` is appended to the path, ``extra_headers`` is merged
last into the headers. Each is checked when the request is built, so a bad value
is a `ValidationError` naming it and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict
from urllib.parse import urlencode

from digipix_async._errors import ValidationError
from digipix_async._input import merge_extra_body
from digipix_async._sansio import Request

__all__ = ["BodyOptions", "RequestOptions", "with_options"]


class RequestOptions(TypedDict, total=False):
    """The escape hatches every call takes."""

    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str | int]


class BodyOptions(RequestOptions, total=False):
    """The escape hatches of a call with a body."""

    extra_body: Mapping[str, Any]


def with_options(request: Request, options: BodyOptions | RequestOptions) -> Request:
    """Return ``request`` with the caller's extra headers, query and body merged in last."""
    if not options:
        return request
    unknown = set(options) - set(BodyOptions.__annotations__)
    if unknown:  # a TypedDict is no check at run time
        raise ValidationError(min(unknown), "not an option of this call")
    changes: dict[str, Any] = {}
    extra_body: Any = options.get("extra_body")  # checked by merge_extra_body
    if extra_body is not None:
        if request.json is None:
            raise ValidationError("extra_body", f"{request.method} {request.path} has no body")
        changes["json"] = merge_extra_body(request.json, extra_body)
        changes["body"] = None  # any encoding made before is stale now
    extra_query = options.get("extra_query")
    if extra_query:
        changes["path"] = f"{request.path}?{urlencode(_checked_query(extra_query))}"
    extra_headers = options.get("extra_headers")
    if extra_headers:
        changes["headers"] = _checked_headers(extra_headers)
    return request._replace(**changes)


def _checked_query(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError("extra_query", f"expected a mapping, got {type(value).__name__}")
    checked = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or not _encodable(key):
            raise ValidationError("extra_query", f"a parameter name must be text, got {key!r}")
        if isinstance(item, bool) or not isinstance(item, str | int) or not _encodable(str(item)):
            raise ValidationError(f"extra_query[{key!r}]", f"expected text or an int, got {item!r}")
        checked[key] = str(item)
    return checked


def _checked_headers(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValidationError("extra_headers", f"expected a mapping, got {type(value).__name__}")
    checked = {}
    for key, item in value.items():
        # A CR or LF would split the header into two: header injection.
        if not isinstance(key, str) or not key.isascii() or not key.isprintable() or " " in key:
            raise ValidationError("extra_headers", f"not a header name: {key!r}")
        if not isinstance(item, str) or not item.isascii() or not item.isprintable():
            raise ValidationError(f"extra_headers[{key!r}]", "expected printable ASCII text")
        checked[key] = item
    return checked


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
