"""What the routes share: built once in `create_app`, reached through a typed dependency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Protocol

from fastapi import Depends, Request

from cds_service.hooks.call import utc_today
from cds_service.hooks.pipeline import Engine
from cds_service.hooks.registry import Registry
from cds_service.security.principal import AuthenticatedClient
from cds_service.settings import Settings

if TYPE_CHECKING:
    from cds_service.api.admission import Admission
    from cds_service.api.connections import ConnectionGuard
    from cds_service.api.ratelimit import RateLimiter
    from cds_service.observability.observer import Observer
    from cds_service.store.repository import Store


class Verifier(Protocol):
    async def verify(self, token: str, audience: str) -> AuthenticatedClient: ...


@dataclass(slots=True)
class AppState:
    settings: Settings
    registry: Registry
    engine: Engine
    store: Store
    observer: Observer
    verifier: Verifier | None  # None when authentication is off
    admission: Admission
    connections: ConnectionGuard  # used when served by `cds-service serve` (api/connections)
    feedback_limiter: RateLimiter
    clock: Callable[[], date] = utc_today  # "today" for the rules' time windows


async def get_state(request: Request) -> AppState:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread, on every request."""
    state: AppState = request.app.state.cds
    return state


StateDep = Annotated[AppState, Depends(get_state)]
