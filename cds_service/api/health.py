"""Liveness and readiness for orchestrators. No auth, no PHI."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cds_service.api.state import StateDep

router = APIRouter(tags=["Operations"])


@router.get("/health/live", summary="The process is up")
async def live() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/health/ready", summary="Content loaded and the database answers")
async def ready(state: StateDep) -> Response:
    def _ping() -> None:
        with state.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(_ping)
    except Exception:  # any database failure means "not ready", never a 500
        down = {"status": "unavailable", "database": "error"}
        return Response(orjson.dumps(down), status_code=503, media_type="application/json")
    body: dict[str, object] = {
        "status": "ok",
        "services": len(list(state.registry)),
        "auth_required": state.settings.auth_required,
    }
    return Response(orjson.dumps(body), media_type="application/json")
