"""Every non-2xx answer is a FHIR OperationOutcome with our own words: no stack trace, no PHI.

401 stays minimal (the spec's best practice: never say why a token was refused).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope

from cds_service.errors import CdsError, ServiceUnavailable, Unauthorized
from cds_service.store.db import DATABASE_DOWN

log = logging.getLogger(__name__)

_ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    408: "timeout",
    412: "not-found",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
    431: "too-long",
    500: "exception",
    503: "transient",
}
_OO_MEDIA_TYPE = "application/fhir+json"


def operation_outcome(
    status: int, text: str, *, code: str, expression: list[str] | None = None
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "severity": "error",
        "code": _ISSUE_CODE.get(status, "processing"),
        "details": {
            "coding": [{"system": "https://cds.example.org/cds-service/error", "code": code}],
            "text": text,
        },
    }
    if expression:
        issue["expression"] = expression[:20]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def error_response(
    status: int,
    text: str,
    *,
    code: str,
    expression: list[str] | None = None,
    retry_after: int = 1,
) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status in (429, 503):
        headers["Retry-After"] = str(retry_after)
    body = operation_outcome(status, text, code=code, expression=expression)
    return Response(orjson.dumps(body), status_code=status, media_type=_OO_MEDIA_TYPE,
                    headers=headers or None)


def response_for(exc: CdsError) -> Response:
    if isinstance(exc, Unauthorized):
        # The reason was logged where it was found; the caller learns nothing more.
        return error_response(401, "Authentication required.", code=exc.code)
    return error_response(
        exc.status_code,
        exc.message,
        code=exc.code,
        expression=exc.expression,
        retry_after=getattr(exc, "retry_after", 1),
    )


async def _cds_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, CdsError)
    return response_for(exc)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    text = {404: "No such endpoint.", 405: "Method not allowed."}.get(
        exc.status_code, "Request refused."
    )
    return error_response(exc.status_code, text, code=f"http-{exc.status_code}")


async def _validation_error(_: Request, exc: Exception) -> Response:
    return error_response(400, "Invalid request.", code="invalid-request")


def where(scope: Scope) -> str:
    """Method and route template for a log line: never the path itself (a caller's service id
    or other free text sits in it)."""
    route = getattr(scope.get("route"), "path", None) or "(no route)"
    return f"{scope.get('method', '?')} {route}"


def log_unexpected(scope: Scope, exc: BaseException) -> None:
    """Our bug: the exception's type and the stack's frames (code, not data). The message is
    left out: it can quote a value from the request."""
    frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    log.error("unhandled %s on %s\n%s", type(exc).__name__, where(scope), frames)


async def _database_down(request: Request, exc: Exception) -> Response:
    # Fail closed, in one line: the outage is logged once per call, without a traceback.
    log.error("database unavailable on %s (%s): answered 503", where(request.scope),
              type(exc).__name__)
    return response_for(ServiceUnavailable())


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Last resort (middleware/InternalErrors answers first, inside CORS and the security
    # headers): our bug, not the caller's. Log the type and frames, never the body.
    log_unexpected(request.scope, exc)
    return error_response(500, "Internal error.", code="internal-error")


_OUTCOME_SCHEMA = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {"resourceType": {"const": "OperationOutcome"}, "issue": {"type": "array"}},
}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer (all OperationOutcome)."""
    meaning = {
        400: "Malformed request, missing or invalid fields, hook mismatch",
        401: "JWT missing or invalid",
        404: "Unknown service",
        412: "Required data neither prefetched nor fetchable from fhirServer",
        413: "Request body too large",
        415: "Request body is not JSON",
        429: "Too many feedback items from this client; retry after `Retry-After` seconds",
        503: "At capacity, or the service's database does not answer; retry after "
        "`Retry-After` seconds",
    }
    return {
        status: {
            "description": meaning[status],
            "content": {_OO_MEDIA_TYPE: {"schema": _OUTCOME_SCHEMA}},
        }
        for status in statuses
    }


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CdsError, _cds_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for down in DATABASE_DOWN:
        app.add_exception_handler(down, _database_down)
    app.add_exception_handler(Exception, _unexpected)
