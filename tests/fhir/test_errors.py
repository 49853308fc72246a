"""Every httpx exception we can meet becomes one of ours (cf. httpx's
tests/test_exceptions.py::test_httpcore_all_exceptions_mapped), without leaking the URL."""

from __future__ import annotations

import inspect

import httpx
import pytest

from cds_service.fhir.errors import (
    FhirAccessDenied,
    FhirError,
    FhirResponseInvalid,
    FhirStatusError,
    FhirUnavailable,
    translate,
)

URL = "https://fhir.example.org/r4/Observation?patient=pat-123"

EXPECTED: dict[str, type[FhirError]] = {
    "HTTPError": FhirUnavailable,
    "RequestError": FhirUnavailable,
    "TransportError": FhirUnavailable,
    "TimeoutException": FhirUnavailable,
    "ConnectTimeout": FhirUnavailable,
    "ReadTimeout": FhirUnavailable,
    "WriteTimeout": FhirUnavailable,
    "PoolTimeout": FhirUnavailable,
    "NetworkError": FhirUnavailable,
    "ConnectError": FhirUnavailable,
    "ReadError": FhirUnavailable,
    "WriteError": FhirUnavailable,
    "CloseError": FhirUnavailable,
    "ProtocolError": FhirUnavailable,
    "LocalProtocolError": FhirUnavailable,
    "RemoteProtocolError": FhirUnavailable,
    "ProxyError": FhirUnavailable,
    "UnsupportedProtocol": FhirAccessDenied,
    "DecodingError": FhirResponseInvalid,
    "TooManyRedirects": FhirUnavailable,
    "HTTPStatusError": FhirStatusError,
    "InvalidURL": FhirAccessDenied,
    "CookieConflict": FhirResponseInvalid,
    "StreamError": FhirUnavailable,
    "StreamConsumed": FhirUnavailable,
    "StreamClosed": FhirUnavailable,
    "ResponseNotRead": FhirUnavailable,
    "RequestNotRead": FhirUnavailable,
}


def _httpx_exception_names() -> set[str]:
    return {
        name
        for name in httpx.__all__
        if inspect.isclass(getattr(httpx, name)) and issubclass(getattr(httpx, name), Exception)
    }


def _instance(name: str) -> Exception:
    cls = getattr(httpx, name)
    request = httpx.Request("GET", URL)
    if name == "HTTPStatusError":
        response = httpx.Response(503, request=request)
        return cls(f"Server error for url {URL}", request=request, response=response)  # type: ignore[no-any-return]
    if name in ("StreamConsumed", "StreamClosed", "ResponseNotRead", "RequestNotRead"):
        return cls()  # type: ignore[no-any-return]
    if issubclass(cls, httpx.RequestError):
        return cls(f"failed for {URL}", request=request)  # type: ignore[no-any-return]
    return cls(f"failed for {URL}")  # type: ignore[no-any-return]


def test_every_httpx_exception_is_mapped() -> None:
    """A new httpx exception class makes this fail until it is given a mapping."""
    assert _httpx_exception_names() == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_httpx_exception_translates(name: str) -> None:
    mapped = translate(_instance(name), host="fhir.example.org")
    assert type(mapped) is EXPECTED[name]
    text = str(mapped)
    assert text.startswith("FHIR server fhir.example.org")
    assert "pat-123" not in text and "?" not in text and "/r4" not in text


def test_status_error_carries_status() -> None:
    mapped = translate(_instance("HTTPStatusError"))
    assert isinstance(mapped, FhirStatusError)
    assert mapped.status_code == 503
    assert str(mapped) == "FHIR server: HTTP 503"


def test_unknown_exception_is_unavailable() -> None:
    assert type(translate(RuntimeError("boom"))) is FhirUnavailable


def test_all_errors_share_the_base() -> None:
    for cls in (FhirUnavailable, FhirStatusError, FhirResponseInvalid, FhirAccessDenied):
        assert issubclass(cls, FhirError)
