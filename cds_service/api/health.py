"""Liveness and readiness for orchestrators. No auth, no PHI.

Ready means the database takes writes, not just reads: every authenticated call writes its
token id to the replay table (and refuses the token when it cannot), and feedback is a write.
So the probe inserts a row into that table and deletes it again, in one committed
transaction, under a deadline (a locked SQLite file waits on its busy timeout).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import anyio
import orjson
from fastapi import APIRouter
from sqlalchemy import delete, insert
from starlette.responses import Response

from cds_service.api.errors import error_response
from cds_service.api.state import StateDep
from cds_service.store.tables import SeenJwt

PROBE_TIMEOUT_SECONDS = 2.0

router = APIRouter(tags=["Operations"])


@router.get("/health/live", summary="The process is up")
async def live() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/health/ready", summary="Content loaded and the database takes writes")
async def ready(state: StateDep) -> Response:
    def _write_probe() -> None:
        # Not a sha256 hex key, so it can never meet a real token's row; gone at commit.
        key = f"readiness-{uuid.uuid4().hex}"
        with state.store.engine.begin() as conn:
            conn.execute(insert(SeenJwt).values(key=key, expires_at=datetime.now(UTC)))
            conn.execute(delete(SeenJwt).where(SeenJwt.key == key))

    try:
        with anyio.fail_after(PROBE_TIMEOUT_SECONDS):
            await anyio.to_thread.run_sync(_write_probe, abandon_on_cancel=True)
    except Exception:  # any database failure or a hang means "not ready", never a 500
        # Like every error: an OperationOutcome (the reason stays in the server, not here).
        return error_response(503, "Not ready: the database does not take writes.",
                              code="not-ready", retry_after=5)
    body: dict[str, object] = {
        "status": "ok",
        "services": len(list(state.registry)),
        "auth_required": state.settings.auth_required,
    }
    return Response(orjson.dumps(body), media_type="application/json")
