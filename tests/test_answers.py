"""Error answers with plain values: statuses, descriptions, Retry-After, redaction, grants."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime

import pytest

from digipix_async._answers import error_from_response, parse_grant, parse_retry_after, redact
from digipix_async._errors import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from digipix_async._sansio import TOKEN_PATH, Request, Response, is_success

QUOTE = Request("POST", "/v1/quote", scope="quote", json={})
TOKEN = Request("POST", TOKEN_PATH, scope=None, json={})


def response(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(status, headers, body)


@pytest.mark.parametrize("status", [200, 201])
def test_only_200_and_201_are_success(status: int) -> None:
    assert is_success(status)


@pytest.mark.parametrize("status", [202, 204, 301, 400, 500])
def test_other_statuses_are_errors(status: int) -> None:
    assert not is_success(status)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
def test_status_maps_to_its_error_class(status: int, error_class: type[APIStatusError]) -> None:
    error = error_from_response(QUOTE, response(status, b'{"message": "nope"}'), attempts=2)

    assert type(error) is error_class
    assert error.status == status
    assert error.description == "nope"
    assert error.body == {"message": "nope"}
    assert error.attempts == 2
    assert str(error) == f"{status} (POST /v1/quote): nope"


def test_a_text_body_is_the_description() -> None:
    error = error_from_response(QUOTE, response(502, b"Bad Gateway\n"), attempts=1)

    assert error.description == "Bad Gateway"
    assert error.body == "Bad Gateway\n"


def test_an_empty_body_still_says_something() -> None:
    error = error_from_response(QUOTE, response(500), attempts=1)
    assert error.description == "HTTP 500 with no description"


def test_a_huge_error_page_is_cut_short_in_the_description() -> None:
    error = error_from_response(QUOTE, response(502, b"x" * 50_000), attempts=1)
    assert len(error.description) == 500


def test_token_endpoint_refusal_is_an_authentication_error_with_the_oauth_code() -> None:
    body = b'{"error": "invalid_client", "error_description": "client authentication failed"}'
    error = error_from_response(TOKEN, response(401, body), attempts=1)

    assert isinstance(error, AuthenticationError)
    assert error.error_code == "invalid_client"
    assert error.description == "token request refused: client authentication failed"


def test_token_endpoint_400_is_also_an_authentication_error() -> None:
    error = error_from_response(TOKEN, response(400, b'{"error": "invalid_scope"}'), attempts=1)
    assert isinstance(error, AuthenticationError)
    assert error.error_code == "invalid_scope"


def test_token_endpoint_429_stays_a_rate_limit() -> None:
    error = error_from_response(TOKEN, response(429, b"", **{"Retry-After": "3"}), attempts=1)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0


def test_retry_after_seconds() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 29 Nov 2026 12:00:07 GMT", now=now) == 7.0


def test_retry_after_in_the_past_means_now() -> None:
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 29 Nov 2026 11:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5e3"])
def test_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_redact_replaces_secrets_everywhere() -> None:
    value = {"echo": ["secret-1 and secret-2"], "secret-1": 1}
    assert redact(value, ["secret-1", "secret-2"]) == {
        "echo": ["[redacted] and [redacted]"],
        "[redacted]": 1,
    }


def test_an_echoed_secret_never_reaches_the_error() -> None:
    body = b'{"message": "bad client_secret s3cr3t for client abc"}'
    error = error_from_response(TOKEN, response(401, body), attempts=1, secrets=["s3cr3t"])

    assert "s3cr3t" not in str(error)
    assert "s3cr3t" not in repr(error.body)


def test_status_errors_pickle_with_their_fields() -> None:
    error = error_from_response(
        QUOTE, response(429, b'{"message": "slow down"}', **{"Retry-After": "2"}), attempts=3
    )
    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is RateLimitError
    assert (copy.status, copy.description, copy.attempts, copy.retry_after) == (
        429,
        "slow down",
        3,
        2.0,
    )
    assert copy.headers == {"Retry-After": "2"}
    assert str(copy) == str(error)


def test_retry_after_takes_only_ascii_digits() -> None:
    # "²" passes str.isdigit but float() refuses it: it must be ignored, not raised.
    assert parse_retry_after("²") is None
    assert parse_retry_after("١٢") is None  # Arabic-Indic digits, same story


def test_a_thousand_digit_retry_after_is_just_a_long_wait() -> None:
    assert parse_retry_after("9" * 1000) == 1e15


def test_redaction_survives_a_hostile_nesting_depth() -> None:
    body: object = "s3cr3t"
    for _ in range(5000):
        body = {"e": [body]}
    cleaned = redact(body, ["s3cr3t"])
    for _ in range(5000):
        cleaned = cleaned["e"][0]
    assert cleaned == "[redacted]"


def test_an_error_body_nested_492_levels_deep_still_gives_a_status_error() -> None:
    deep = b'{"a":' * 492 + b"1" + b"}" * 492
    error = error_from_response(QUOTE, response(503, deep), attempts=1)
    assert isinstance(error, InternalServerError)
    assert error.status == 503


def test_an_error_body_with_fractions_is_described_exactly() -> None:
    error = error_from_response(QUOTE, response(400, b'{"limit": 1.10}'), attempts=1)
    assert error.description == '{"limit":1.10}'


@pytest.mark.parametrize("token", ["abc\r\nX-Evil: 1", "abc def", "t\u00f6ken"])
def test_a_token_a_header_cannot_carry_is_refused_once(token: str) -> None:
    body = json.dumps({"access_token": token, "expires_in": 3600}).encode()
    with pytest.raises(APIResponseValidationError, match="HTTP header"):
        parse_grant(response(200, body))
