"""`create_app(settings)`: wiring only. Everything a request needs is built here, once."""

from __future__ import annotations

import functools
import gc
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
from fastapi import FastAPI
from sqlalchemy import Engine as Database

from cds_service.api import feedback, health, metrics, services
from cds_service.api.admission import Admission
from cds_service.api.connections import ConnectionGuard, HttpLimits
from cds_service.api.errors import install_error_handlers
from cds_service.api.middleware import install_middleware
from cds_service.api.ratelimit import RateLimiter
from cds_service.api.state import AppState, Verifier
from cds_service.cards.catalog import CardCatalog
from cds_service.clinical.terminology import get_terminology
from cds_service.fhir.client import FhirClient
from cds_service.fhir.prefetch import FetchLimits
from cds_service.governance.attributes import discovery_extension, source_attributes
from cds_service.governance.site import site_for
from cds_service.hooks.pipeline import Engine, PipelineConfig
from cds_service.hooks.registry import build_registry
from cds_service.observability.logging import configure_logging
from cds_service.observability.metrics import LoadSnapshot, Metrics
from cds_service.observability.observer import Observer
from cds_service.rules.types import Thresholds
from cds_service.settings import Settings, unknown_variables
from cds_service.store.db import open_database
from cds_service.store.repository import Store
from cds_service.store.retention import Retention

log = logging.getLogger(__name__)


@functools.cache
def default_catalog() -> CardCatalog:
    """The shipped card content: immutable, so parsed and checked once per process."""
    return CardCatalog.load()


def build_engine(
    settings: Settings, *, fhir_transport: httpx.AsyncBaseTransport | None = None
) -> Engine:
    """The hook pipeline's loaded content and FHIR client (shared by the API and the CLI)."""
    terminology = get_terminology()
    site = site_for(settings)
    return Engine(
        terminology=terminology,
        catalog=default_catalog(),
        fhir=FhirClient.create(
            settings.fhir_timeout_seconds,
            transport=fhir_transport,
            max_bytes=settings.fhir_max_response_bytes,
        ),
        config=PipelineConfig(
            limits=FetchLimits(
                per_call_timeout=settings.fhir_timeout_seconds,
                deadline=settings.request_deadline_seconds,
                max_pages=settings.max_pages,
                max_entries_per_key=settings.max_entries_per_key,
                max_json_values=settings.fhir_max_json_values,
            ),
            thresholds=site.cut_offs(
                Thresholds(hypomagnesemia_mmol_per_l=settings.hypomagnesemia_mmol_per_l)
            ),
            lab_max_age_days=site.lab_max_age_days or settings.lab_max_age_days,
            max_cards=settings.max_cards,
            site=site,
        ),
    )


def _warn_about_profile(settings: Settings) -> None:
    if not settings.auth_required:
        log.warning(
            "AUTHENTICATION IS OFF (CDS_AUTH_REQUIRED=false): any caller can use this service. "
            "Never run like this with real patient data."
        )
    if settings.profile != "production":
        log.warning("Running the '%s' profile: relaxed defaults, testing only.", settings.profile)
    for note in unknown_variables():
        log.warning(note)


def create_app(
    settings: Settings | None = None,
    *,
    fhir_transport: httpx.AsyncBaseTransport | None = None,
    jwks_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    _warn_about_profile(settings)

    db = open_database(settings.database_url, migrate=settings.database_migrate)
    engine = build_engine(settings, fhir_transport=fhir_transport)
    jwks_http = httpx.AsyncClient(
        timeout=httpx.Timeout(3.0), follow_redirects=False, transport=jwks_transport
    )
    verifier = _verifier(settings, db, jwks_http) if settings.auth_required else None
    retention = Retention(db, audit_days=settings.audit_retention_days)
    site = engine.config.site
    if site.path is not None:
        log.info("site file %s: %s", site.path, "; ".join(site.changes()) or "shipped defaults")
    attributes = source_attributes(engine.catalog)
    state = AppState(
        settings=settings,
        registry=build_registry(
            engine.terminology.observation_query_codes(),
            extension=lambda hook: discovery_extension(
                attributes, {rule: site.mode(rule, hook) for rule in attributes}
            ),
        ),
        engine=engine,
        store=Store(
            db,
            audit_batch_rows=settings.audit_batch_rows,
            audit_flush_seconds=settings.audit_flush_seconds,
        ),
        observer=Observer(Metrics() if settings.metrics_enabled else None),
        verifier=verifier,
        admission=Admission(
            settings.max_concurrent_calls,
            settings.max_queued_calls,
            settings.queue_timeout_seconds,
        ),
        connections=ConnectionGuard(HttpLimits.from_settings(settings), settings.cors_origins),
        feedback_limiter=RateLimiter(settings.feedback_items_per_minute),
    )
    state.connections.state = state
    if state.observer.metrics is not None:
        state.observer.metrics.watch_load(functools.partial(_load_snapshot, state))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything built above lives as long as the app: freeze it out of the GC's sight,
        # and let young-generation collections wait for more than one request's worth of
        # parsed JSON (an 80 KB request makes ~5,000 objects; the default threshold is 700).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(state.store.audit.run)
            tasks.start_soon(retention.run)
            yield
            tasks.cancel_scope.cancel()
        # uvicorn calls this after the last in-flight call has answered: nothing is lost.
        await anyio.to_thread.run_sync(state.store.flush_served)
        if state.store.audit.pending:
            log.error("shutdown: %d served-card audit row(s) could not be written",
                      state.store.audit.pending)
        await engine.fhir.aclose()
        await jwks_http.aclose()
        db.dispose()

    app = FastAPI(
        title="Muscle cramp CDS Hooks service",
        version="0.1.0",
        description="CDS Hooks 2.0 service for the lower-extremity muscle cramp guideline.",
        lifespan=lifespan,
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    app.state.cds = state
    install_error_handlers(app)
    install_middleware(
        app, settings.cors_origins, docs_served=bool(settings.api_docs), admission=state.admission
    )
    app.include_router(services.router)
    app.include_router(feedback.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    _document_hook_request(app, state)
    return app


def _verifier(settings: Settings, db: Database, jwks_http: httpx.AsyncClient) -> Verifier:
    """The JWT verifier. Imported here: the JOSE and cryptography stack (about 30 MiB of
    resident memory) is loaded only by a process that checks tokens."""
    from cds_service.security.jwks import JwksCache
    from cds_service.security.jwt import JwtVerifier
    from cds_service.security.replay import ReplayStore
    from cds_service.security.trust import load_trust

    return JwtVerifier(
        load_trust(settings),
        JwksCache(jwks_http),
        ReplayStore(db, prune_interval=math.inf),  # pruned by `retention`, off the path
        clock_skew=settings.jwt_clock_skew_seconds,
        max_lifetime=settings.jwt_max_lifetime_seconds,
    )


def _load_snapshot(state: AppState) -> LoadSnapshot:
    shed = state.admission.stats
    return LoadSnapshot(
        connections_open=state.connections.open,
        limit_events=dict(state.connections.stats.counts),
        calls_in_flight=state.admission.in_flight,
        calls_queued=state.admission.queued,
        calls_shed={
            "queue_full": shed.shed_queue_full,
            "queue_timeout": shed.shed_queue_timeout,
            "stale": shed.shed_stale,
            "backlog": shed.shed_backlog,
        },
        feedback_throttled=state.feedback_limiter.refused,
    )


def _document_hook_request(app: FastAPI, state: AppState) -> None:
    """Publish the hook request schema (the route reads the raw body for speed and bounds)."""
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base_openapi()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            request_schema, definitions = state.registry.decoder.schema()
            components.update(definitions)
            components["HookRequest"] = request_schema
            # We read bodies ourselves and answer 400, never FastAPI's 422.
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """The uvicorn factory: settings from CDS_* variables (and CDS_ENV_FILE)."""
    from cds_service.settings import load_settings

    return create_app(load_settings())
