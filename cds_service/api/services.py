"""`GET /cds-services` (discovery) and `POST /cds-services/{id}` (a hook call).

Order of checks: JWT 401 -> unknown id 404 -> body 415/413/400 -> fields 400 -> hook and context
400 -> data 412 -> 200 with cards. The token is checked first so that, without one, every id
answers the same 401 and the service ids cannot be probed (discovery lists them to callers
with a token).
"""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from cds_service.api.auth import Caller, authenticate
from cds_service.api.body import read_body
from cds_service.api.errors import documented_errors
from cds_service.api.state import AppState, StateDep
from cds_service.cdshooks.response import CdsResponse
from cds_service.errors import CdsError
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.hooks.call import answer_call
from cds_service.hooks.pipeline import CallReport
from cds_service.security.principal import AuthenticatedClient
from cds_service.settings import Settings

router = APIRouter(tags=["CDS Hooks"])

JSON = "application/json"


@router.get(
    "/cds-services",
    summary="Discovery: the services this CDS service offers",
    responses=documented_errors(401, 503),
)
async def discovery(state: StateDep, _caller: Caller) -> Response:
    return Response(orjson.dumps(state.registry.discovery()), media_type=JSON)


@router.post(
    "/cds-services/{service_id}",
    summary="Call a CDS service with a hook request; answers with cards",
    responses={200: {"model": CdsResponse}, **documented_errors(400, 401, 404, 412, 413, 415, 503)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/HookRequest"}}},
        }
    },
)
async def call_service(service_id: str, request: Request) -> Response:
    # The state is read directly, not as a FastAPI dependency: the hot path skips the solver.
    state: AppState = request.app.state.cds
    started = time.perf_counter()
    report = CallReport()
    status = 500
    known = state.registry.knows(service_id)
    try:
        caller = await authenticate(request, state)
        state.registry.get(service_id)  # 404 before the body is read
        raw = await read_body(request, max_bytes=state.settings.max_body_bytes)
        policy = access_policy(state.settings, caller)
        response = await answer_call(
            state.engine,
            state.registry,
            raw,
            service_id=service_id,
            policy=lambda _request: policy,
            today=state.clock(),
            report=report,
        )
        status = 200
    except CdsError as exc:
        status = exc.status_code
        raise
    finally:
        state.observer.hook_call(
            service_id=service_id,
            known_service=known,
            status=status,
            duration_seconds=time.perf_counter() - started,
            hook_instance=report.hook_instance,
            report=report,
        )
    if report.cards or report.silent:
        assert report.hook_instance is not None
        state.store.queue_served(
            service_id, report.hook_instance, report.cards, silent=report.silent
        )
    return Response(orjson.dumps(response.to_json()), media_type=JSON)


def access_policy(settings: Settings, caller: AuthenticatedClient) -> FhirAccessPolicy:
    """Which FHIR servers this caller may make us call (SSRF guard)."""
    return FhirAccessPolicy(
        allowed_bases=caller.fhir_servers,
        allowed_hosts=tuple(settings.fhir_allowed_hosts),
        allow_private=settings.fhir_allow_private_addresses,
        allow_unauthenticated=settings.fhir_allow_unauthenticated,
    )
