"""`POST /cds-services/{id}/feedback` (CDS Hooks 2.0 §Feedback; checklist §6).

Order of checks, as for hook calls: JWT 401 (its `aud` is this URL; before the id, so ids cannot
be probed without a token) -> unknown id 404 -> rate limit 429 -> body 415/413/400 -> fields 400
-> rate limit per item 429 -> store -> 200 `{}`. The spec defines no response; the sandbox
ignores it, and an empty JSON object keeps clients that expect JSON happy.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cds_service.api.auth import authenticate
from cds_service.api.body import read_json_object
from cds_service.api.ratelimit import RateLimiter
from cds_service.api.state import StateDep
from cds_service.errors import BadRequest, TooManyRequests
from cds_service.security.principal import AuthenticatedClient
from cds_service.store.feedback_models import FeedbackItem, FeedbackRequest

router = APIRouter(tags=["CDS Hooks"])

# 100 items with a 2 000-character comment each stay well under this.
FEEDBACK_MAX_BYTES = 512_000


def _inline_schema(model: type[FeedbackRequest]) -> dict[str, Any]:
    """The model's JSON schema with `$defs` inlined, so it can sit inside the route's OpenAPI."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


@router.post(
    "/cds-services/{service_id}/feedback",
    summary="Report what the clinician did with cards: accepted (which suggestions) or "
    "overridden (and why)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_schema(FeedbackRequest)}},
        }
    },
)
async def post_feedback(service_id: str, request: Request, state: StateDep) -> Response:
    caller = await authenticate(request, state)
    service = state.registry.get(service_id)
    client = rate_key(request, caller)
    _check_allowance(state.feedback_limiter, client, 1)  # refuse before reading the body
    body = await read_json_object(
        request,
        max_bytes=min(state.settings.max_body_bytes, FEEDBACK_MAX_BYTES),
        max_depth=state.settings.max_json_depth,
    )
    items = parse_feedback(body)
    _check_allowance(state.feedback_limiter, client, len(items), take=True)
    outcome = await run_in_threadpool(state.store.record_feedback, service.id, items)
    state.observer.feedback(service.id, outcome.counted)
    return Response(b"{}", media_type="application/json")


def rate_key(request: Request, caller: AuthenticatedClient) -> str:
    """Whose allowance: the verified issuer (and tenant), or the peer address without auth."""
    if caller.issuer:
        return f"{caller.issuer}|{caller.tenant or ''}"
    peer = request.client
    return f"peer:{peer.host if peer else '?'}"


def _check_allowance(limiter: RateLimiter, client: str, items: int, *, take: bool = False) -> None:
    wait = limiter.take(client, items, dry_run=not take)
    if wait:
        raise TooManyRequests(
            f"Too many feedback items from this client; retry after {wait} s.", retry_after=wait
        )


def parse_feedback(body: dict[str, Any]) -> list[FeedbackItem]:
    """Validate the body; name the offending fields (never their values) on failure."""
    try:
        return FeedbackRequest.model_validate(body).feedback
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors(include_input=False):
            where = ".".join(str(p) for p in error["loc"]) or "(root)"
            problems.setdefault(where, error["msg"])
        fields = list(problems)[:10]
        # pydantic's messages state the rule ("Input should be 'accepted' or 'overridden'"),
        # never the value sent.
        detail = "; ".join(f"{field}: {problems[field]}" for field in fields[:5])
        raise BadRequest(f"Invalid feedback: {detail}.", expression=fields) from None
