"""Errors of the FHIR layer, and the one place where httpx's exceptions become ours.

    FhirError                      base; the message is safe to log (no token, no PHI)
    ├── FhirUnavailable            never got a usable response: connect error, timeout, deadline
    ├── FhirStatusError            the server answered 3xx/4xx/5xx; carries `status_code`
    ├── FhirResponseInvalid        the body is not JSON, not a FHIR resource, or too large
    └── FhirAccessDenied           our policy refused the URL (SSRF guard); nothing was sent

Messages name the host at most: never a token, a query string or a resource id, because
URLs built from prefetch templates carry patient ids.
"""

from __future__ import annotations

import httpx


class FhirError(Exception):
    """Base class: getting FHIR data failed. `str(exc)` is safe for logs and reasons."""


class FhirUnavailable(FhirError):
    """No usable response: connection refused, DNS failure, timeout, overall deadline."""


class FhirStatusError(FhirError):
    """The FHIR server answered with a non-2xx status (redirects are not followed)."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class FhirResponseInvalid(FhirError):
    """A 2xx answer we can't use: not JSON, not a JSON object with `resourceType`, too large."""


class FhirAccessDenied(FhirError):
    """The URL is not one we may call: scheme, userinfo, host not allowed, private address."""


# Most specific first: isinstance picks the first match, like httpx's own mapping table.
_MAPPING: tuple[tuple[type[Exception], type[FhirError], str], ...] = (
    (httpx.HTTPStatusError, FhirStatusError, "answered with an error status"),
    (httpx.ConnectTimeout, FhirUnavailable, "timed out connecting"),
    (httpx.PoolTimeout, FhirUnavailable, "timed out waiting for a free connection"),
    (httpx.TimeoutException, FhirUnavailable, "timed out"),
    (httpx.UnsupportedProtocol, FhirAccessDenied, "URL scheme not supported"),
    (httpx.ConnectError, FhirUnavailable, "connection failed"),
    (httpx.NetworkError, FhirUnavailable, "network error"),
    (httpx.ProxyError, FhirUnavailable, "proxy error"),
    (httpx.ProtocolError, FhirUnavailable, "HTTP protocol error"),
    (httpx.DecodingError, FhirResponseInvalid, "response body could not be decoded"),
    (httpx.TooManyRedirects, FhirUnavailable, "too many redirects"),
    (httpx.TransportError, FhirUnavailable, "transport error"),
    (httpx.HTTPError, FhirUnavailable, "request failed"),
    (httpx.InvalidURL, FhirAccessDenied, "invalid URL"),
    (httpx.CookieConflict, FhirResponseInvalid, "conflicting cookies"),
    (httpx.StreamError, FhirUnavailable, "response stream error"),
)


def translate(exc: Exception, *, host: str | None = None) -> FhirError:
    """Map an httpx exception to ours. The caller re-raises it `from exc` to keep the cause.

    httpx messages can quote the URL (with its query string), so they are never copied.
    """
    where = f"FHIR server {host}" if host else "FHIR server"
    for source, target, text in _MAPPING:
        if isinstance(exc, source):
            name = type(exc).__name__
            if target is FhirStatusError:
                assert isinstance(exc, httpx.HTTPStatusError)
                status = exc.response.status_code
                return FhirStatusError(f"{where}: HTTP {status}", status_code=status)
            return target(f"{where}: {text} ({name})")
    return FhirUnavailable(f"{where}: request failed ({type(exc).__name__})")
