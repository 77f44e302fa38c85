"""Bad configuration is a ValueError naming the option, at construction (issues 11.8, 15.9).

Each of these was accepted before and failed on every call (``timeout=1e308``:
OverflowError), or was retried three times (``base_url="http://"``), or ignored
(an unknown ``DIGIPIX_ENVIRONMENT`` next to ``DIGIPIX_BASE_URL``).
"""

from __future__ import annotations

import math
import ssl
from typing import Any

import pytest

from digipix_async import DigipixClient, Limits, Timeout

SECRET = "s3cr3t-value"


def client(**options: Any) -> DigipixClient:
    return DigipixClient("abc123", SECRET, **options)


@pytest.mark.parametrize("seconds", [1e308, math.inf, math.nan, 0, -1, 10**400, 86400.5])
def test_a_timeout_out_of_range_is_refused_naming_timeout(seconds: float) -> None:
    with pytest.raises(ValueError, match=r"^timeout must be .* up to 86400"):
        client(timeout=seconds)


@pytest.mark.parametrize("field", ["total", "connect", "read"])
def test_each_limit_of_a_timeout_value_is_bounded(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^timeout\.{field} must be"):
        Timeout(**{field: 1e308})


def test_a_timeout_of_a_day_is_accepted() -> None:
    assert client(timeout=86400)._timeout.total == 86400.0


@pytest.mark.parametrize(
    ("base_url", "problem"),
    [
        ("http://", "has no host"),
        ("https:///v1", "has no host"),
        ("http://api.test\r\nX-Injected: 1", "control"),
        ("http://api.test/\n", "control"),
        ("http://api\x00.test", "control"),
        ("http://api.test\x7f", "control"),
        ("http://api test", "spaces"),
        ("http://bücher.test", "non-ASCII"),
        ("ftp://api.test", "is not http"),
        ("api.test", "is not http"),
        ("file:///etc/passwd", "is not http"),
        ("http://user:pass@api.test", "credentials"),
        ("http://api.test:99999", "port"),
        ("http://api.test:http", "port"),
        ("http://api.test/?debug=1", "query"),
        ("http://api.test#top", "fragment"),
        (b"http://api.test", "string"),
    ],
)
def test_a_bad_base_url_is_refused_at_construction(base_url: Any, problem: str) -> None:
    with pytest.raises(ValueError, match="base_url") as caught:
        client(base_url=base_url)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://gateway.example.com/digipix", "https://gateway.example.com/digipix"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://xn--bcher-kva.test", "https://xn--bcher-kva.test"),
    ],
)
def test_a_good_base_url_is_kept_without_its_trailing_slash(base_url: str, expected: str) -> None:
    assert client(base_url=base_url).base_url == expected


@pytest.mark.parametrize("environment", ["SANDBOX", " Sandbox ", "sandbox"])
def test_the_environment_is_read_case_insensitively(environment: str) -> None:
    assert client(environment=environment).base_url == "https://api.digipix.dev"


def test_an_unknown_environment_is_refused_even_with_a_base_url() -> None:
    with pytest.raises(ValueError, match=r"environment .*'staging'"):
        client(environment="staging", base_url="http://127.0.0.1:8080")
    with pytest.raises(ValueError, match="environment"):
        client(environment=None)


def test_from_env_with_nothing_set_names_the_variables_it_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ID", "SECRET", "ENVIRONMENT", "BASE_URL"):
        monkeypatch.delenv(f"DIGIPIX_CLIENT_{name}", raising=False)
        monkeypatch.delenv(f"DIGIPIX_{name}", raising=False)

    with pytest.raises(ValueError, match="DIGIPIX_CLIENT_ID and DIGIPIX_CLIENT_SECRET not set"):
        DigipixClient.from_env()

    monkeypatch.setenv("DIGIPIX_CLIENT_ID", "abc123")
    with pytest.raises(ValueError, match=r"\): DIGIPIX_CLIENT_SECRET not set") as caught:
        DigipixClient.from_env()
    assert "abc123" not in str(caught.value)  # names, never values


def test_from_env_reads_a_case_insensitive_environment_and_checks_it_beside_a_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIGIPIX_CLIENT_ID", "abc123")
    monkeypatch.setenv("DIGIPIX_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("DIGIPIX_ENVIRONMENT", "Sandbox")
    monkeypatch.delenv("DIGIPIX_BASE_URL", raising=False)
    assert DigipixClient.from_env().base_url == "https://api.digipix.dev"

    monkeypatch.setenv("DIGIPIX_ENVIRONMENT", "prod")
    monkeypatch.setenv("DIGIPIX_BASE_URL", "http://127.0.0.1:8080")
    with pytest.raises(ValueError, match="environment"):
        DigipixClient.from_env()


@pytest.mark.parametrize(
    "app_info",
    [
        ("my shop", "2.1"),
        ("myshop", "2.1\r\nX-Injected: 1"),
        ("myshop/2.1", "1"),
        ("myshop", ""),
        ("myshop",),
        ("a", "b", "c"),
        "myshop/2.1",
        ("myshop", 2.1),
        ("lojinha-ç", "1"),
        ("x" * 65, "1"),
    ],
)
def test_bad_app_info_is_refused_naming_app_info(app_info: Any) -> None:
    with pytest.raises(ValueError, match=r"^app_info must be"):
        client(app_info=app_info)


@pytest.mark.parametrize("size", [0, -1, True, 1.5, "10MB", None])
def test_a_bad_max_response_size_is_refused(size: Any) -> None:
    with pytest.raises(ValueError, match=r"^max_response_size must be a whole number"):
        client(max_response_size=size)


def test_max_response_size_defaults_to_10_mib() -> None:
    assert Limits().max_response_size == 10 * 1024 * 1024


@pytest.mark.parametrize("value", ["yes", 1, ssl.create_default_context])
def test_ssl_takes_none_false_or_a_context(value: Any) -> None:
    with pytest.raises(TypeError, match=r"^ssl must be"):
        client(ssl=value)
    for good in (None, True, False, ssl.create_default_context()):
        client(ssl=good)
