"""`GET /metrics`: Prometheus text format, for the operators' scraper.

No authentication, like most exporters: serve it on an internal network only, and keep it off
the public ingress (it names rules and services, never patients). 404 when metrics are off.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cds_service.api.errors import error_response
from cds_service.api.state import StateDep

router = APIRouter(tags=["Operations"])


@router.get("/metrics", summary="Prometheus metrics (internal: do not expose publicly)")
async def metrics(state: StateDep) -> Response:
    exported = state.observer.metrics
    if exported is None:
        return error_response(404, "Metrics are disabled (CDS_METRICS_ENABLED=false).",
                              code="metrics-disabled")
    body, content_type = exported.exposition()
    return Response(body, media_type=content_type)
