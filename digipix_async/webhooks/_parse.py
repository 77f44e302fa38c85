"""Read a status notification body, and build the notification URL that carries a secret.

Nothing here needs a socket: the receiver and every framework adapter share it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import SplitResult, quote, unquote_plus, urlsplit, urlunsplit

from digipix_async._converter import StructureError, structure
from digipix_async._errors import DigipixError, ValidationError
from digipix_async._json import loads
from digipix_async.models import StatusNotification

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_STATUS_LENGTH",
    "InvalidNotificationError",
    "notification_url",
    "parse_notification",
]

# An error message quotes at most this much of a bad value: the body is attacker-controlled.
_MAX_PROBLEM = 200
#: Longest order id accepted. Digipix ids are 20 characters; anything near this
#: limit is not an order id, and refusing it keeps dedupe memory and logs small.
MAX_ID_LENGTH: Final = 256
#: Longest status accepted (the longest known one, IN_MANUFACTURING, has 16).
MAX_STATUS_LENGTH: Final = 64
_MAX_LENGTH: Final = {"id": MAX_ID_LENGTH, "status": MAX_STATUS_LENGTH}
# C0/C1 controls and DEL would forge log lines or headers; a lone surrogate
# (JSON "\ud800") cannot be encoded to send the id back to the API.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class InvalidNotificationError(DigipixError, ValueError):
    """A notification body that is not the JSON object the reference describes.

    ``problem`` names the culprit first (``"status: missing"``,
    ``"body is not JSON: ..."``, ``"tracking_items[0].code: expected a string, got int"``).
    """

    def __init__(self, problem: str) -> None:
        if len(problem) > _MAX_PROBLEM:
            problem = problem[: _MAX_PROBLEM - 3] + "..."
        super().__init__(problem)
        self.problem = problem


def _type_name(value: object) -> str:
    return type(value).__name__


def _decode(body: bytes | bytearray | str) -> Any:
    if not body.strip():
        raise InvalidNotificationError("body is empty; a JSON object is expected")
    try:
        return loads(bytes(body) if isinstance(body, bytearray) else body)
    # RecursionError: a deeply nested array is valid JSON that json refuses to build.
    except (ValueError, RecursionError) as exc:
        raise InvalidNotificationError(f"body is not JSON: {exc}") from None


def _required_text(data: Mapping[str, Any], key: str) -> None:
    # Reference, Notifications: id and status are "required, string non-empty".
    if key not in data or data[key] is None:
        raise InvalidNotificationError(f"{key}: missing")
    value = data[key]
    if not isinstance(value, str):
        raise InvalidNotificationError(f"{key}: expected a string, got {_type_name(value)}")
    if not value.strip():
        raise InvalidNotificationError(f"{key}: empty")
    if len(value) > _MAX_LENGTH[key]:
        raise InvalidNotificationError(
            f"{key}: {len(value)} characters is over the limit of {_MAX_LENGTH[key]}"
        )
    if (bad := _FORBIDDEN.search(value)) is not None:
        raise InvalidNotificationError(
            f"{key}: control or unpaired surrogate character U+{ord(bad.group()):04X} "
            f"at position {bad.start()}"
        )


def _check_shape(raw: Any) -> dict[str, Any]:
    """Check what the converter would accept too loosely; return a dict to structure."""
    if not isinstance(raw, Mapping):
        raise InvalidNotificationError(f"body: expected a JSON object, got {_type_name(raw)}")
    data: dict[str, Any] = {**raw}
    _required_text(data, "id")
    _required_text(data, "status")
    custom = data.get("customData")
    if custom is not None and not isinstance(custom, Mapping):
        raise InvalidNotificationError(
            f"customData: expected a JSON object, got {_type_name(custom)}"
        )
    # tracking_items needs no check here: the converter reads null as none and
    # refuses anything but an array, naming the field.
    return data


def _first_problem(exc: StructureError) -> str:
    # The converter says "expected a string, got int @ $.tracking_items[0].code";
    # the field comes first here, like every other message of this error.
    message, _, path = exc.problems[0].rpartition(" @ ")
    field = path.removeprefix("$").removeprefix(".") or "body"
    return f"{field}: {message}" if message else exc.problems[0]


def parse_notification(body: bytes | str | Mapping[str, Any]) -> StatusNotification:
    """Turn a status notification (raw JSON or already decoded) into a `StatusNotification`.

    Unknown statuses are kept (see `OrderStatus`) and unknown fields land in
    ``extra``. Anything else that is not the reference's notification raises
    `InvalidNotificationError`, and only that, whatever the input.
    """
    if isinstance(body, bytes | bytearray | str):
        data = _decode(body)
    elif isinstance(body, Mapping):
        data = body
    else:
        raise InvalidNotificationError(
            f"body: expected JSON bytes, text or a mapping, got {_type_name(body)}"
        )
    checked = _check_shape(data)
    try:
        return structure(checked, StatusNotification)
    except StructureError as exc:
        raise InvalidNotificationError(_first_problem(exc)) from None


def notification_url(url: str, secret: str, *, param: str = "token") -> str:
    """Add ``param=secret`` to the ``status_notification_url`` given to ``orders.create``.

    Other query parameters are kept as they were written; an existing ``param``
    is replaced. Raises `ValidationError` for a URL that is not http(s) or an
    empty secret (whose value is never quoted in the message).
    """
    if not isinstance(secret, str) or not secret:
        raise ValidationError("secret", "expected a non-empty string")
    if not isinstance(param, str) or not param:
        raise ValidationError("param", f"expected a non-empty string, got {param!r}")
    parts: SplitResult | None = None
    host: str | None = None
    if isinstance(url, str):
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # an unclosed "[" of an IPv6 host, a bad port
            parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise ValidationError("url", f"expected an http(s) URL, got {url!r}")
    # Keep the other pairs byte for byte: re-encoding them could change what they mean.
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and unquote_plus(pair.partition("=")[0]) != param
    ]
    kept.append(f"{quote(param, safe='')}={quote(secret, safe='')}")
    return urlunsplit(parts._replace(query="&".join(kept)))
