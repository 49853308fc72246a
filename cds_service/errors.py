"""The service's error tree. Every error the API answers with is one of these.

    CdsError                       base; carries an HTTP status and a stable code
    ├── BadRequest          400    malformed JSON, missing or mistyped fields, hook mismatch
    │   └── RequestTooDeep  400    JSON nested deeper than the configured limit
    ├── Unauthorized        401    JWT missing or invalid (the body never says why)
    ├── UnknownService      404    no service with that id
    ├── PayloadTooLarge     413    body over the configured limit
    ├── UnsupportedMedia    415    body is not JSON
    ├── TooManyRequests     429    a client's feedback over its rate limit (with Retry-After)
    ├── ClientGone          499    the client left before its body arrived (nobody reads this)
    ├── DataUnavailable     412    required data neither prefetched nor fetchable (spec §Prefetch)
    └── ServiceUnavailable  503    the service's own database does not answer (fail closed)

`code` values are stable: tests, logs and the OperationOutcome's `details.coding` use them.
Messages never contain patient data or tokens.
"""

from __future__ import annotations


class CdsError(Exception):
    """Base class: an error with an HTTP status and a stable code."""

    status_code: int = 500
    code: str = "internal-error"

    def __init__(self, message: str, *, expression: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression or []


class BadRequest(CdsError):
    """The request is not a valid CDS Hooks call for this service."""

    status_code = 400
    code = "invalid-request"


class RequestTooDeep(BadRequest):
    """JSON nesting deeper than `CDS_MAX_JSON_DEPTH`."""

    code = "too-deep"


class Unauthorized(CdsError):
    """The caller's JWT is missing or failed verification."""

    status_code = 401
    code = "unauthorized"


class UnknownService(CdsError):
    """No service is registered under the requested id."""

    status_code = 404
    code = "unknown-service"


class PayloadTooLarge(CdsError):
    """The request body exceeds `CDS_MAX_BODY_BYTES`."""

    status_code = 413
    code = "too-large"


class UnsupportedMediaType(CdsError):
    """The request body is not declared as JSON."""

    status_code = 415
    code = "unsupported-media-type"


class TooManyRequests(CdsError):
    """A client sent more than its allowance; `retry_after` seconds until it may again."""

    status_code = 429
    code = "rate-limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientGone(CdsError):
    """The connection closed before the request body ended (nginx's 499: no one gets it)."""

    status_code = 499
    code = "client-closed"


class DataUnavailable(CdsError):
    """Required data is missing from prefetch and could not be fetched from `fhirServer`."""

    status_code = 412
    code = "data-unavailable"


class ServiceUnavailable(CdsError):
    """The service's database does not answer, so the call cannot be checked (JWT replay) or
    stored (feedback): refused, and the caller may retry later. Not the caller's fault."""

    status_code = 503
    code = "unavailable"

    def __init__(
        self, message: str = "The service is unavailable: its database does not answer. "
        "Try again later."
    ) -> None:
        super().__init__(message)
