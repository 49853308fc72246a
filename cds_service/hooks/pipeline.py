"""One hook call, start to finish: data -> facts -> rules -> cards.

    resolve prefetch (fhir)  ->  412 if required data can't be had
    resolve medication references (fhir)
    build PatientFacts and read the orders (clinical)
    evaluate the rules (rules)  ->  render cards (cards)

`hooks.call.answer_call` runs this for the HTTP route, the `evaluate` CLI and the scenario
runner; nothing here knows about HTTP.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_service.cards.catalog import CardCatalog
from cds_service.cards.render import RenderedCard, render_cards
from cds_service.cdshooks.hooks import HOOKS
from cds_service.cdshooks.request import HookContext, HookRequest, check_context
from cds_service.cdshooks.resources import Resource, as_json
from cds_service.cdshooks.response import CdsResponse
from cds_service.clinical.facts import build_facts
from cds_service.clinical.orders import draft_order_resources, read_draft_orders
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import Medication
from cds_service.errors import BadRequest, DataUnavailable
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.fhir.client import FhirClient
from cds_service.fhir.medications import resolve_medication_references
from cds_service.fhir.prefetch import FetchLimits, PrefetchResult, resolve_prefetch
from cds_service.governance.site import Site
from cds_service.hooks.registry import Service
from cds_service.rules import fire, select
from cds_service.rules.types import Finding, RuleInput, Thresholds


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """What the pipeline needs from settings, as plain values."""

    limits: FetchLimits
    thresholds: Thresholds
    lab_max_age_days: int
    max_cards: int
    site: Site = field(default_factory=Site)  # rule modes and budget per hook (site file)


@dataclass(frozen=True, slots=True)
class Engine:
    """Everything loaded once at start-up that a hook call reads."""

    terminology: Terminology
    catalog: CardCatalog
    fhir: FhirClient
    config: PipelineConfig


@dataclass(slots=True)
class CallReport:
    """What happened during one call, for the log line and metrics. No PHI."""

    hook_instance: str | None = None
    service_id: str | None = None  # the service that answered, once known
    prefetch: PrefetchResult | None = None
    rule_ids: list[str] = field(default_factory=list)
    cards: list[RenderedCard] = field(default_factory=list)
    silent: list[RenderedCard] = field(default_factory=list)  # rules in silent mode: not sent
    fhir_ms: float = 0.0


def parse_context(service: Service, request: HookRequest) -> HookContext:
    """Check the hook matches the service and the hook's required context fields are there."""
    if request.hook != service.hook:
        # Name the request's hook only when it is one we know: never echo a caller's free text.
        sent = f"'{request.hook}'" if request.hook in HOOKS else "the one sent"
        raise BadRequest(
            f"Service '{service.id}' answers the '{service.hook}' hook, not {sent}.",
            expression=["hook"],
        )
    return check_context(service.hook, request)


def _resources(data: PrefetchResult, key: str) -> list[Resource]:
    item = data.keys.get(key)
    return list(item.resources) if item else []


def _json(data: PrefetchResult, key: str) -> list[dict[str, Any]]:
    """A key's resources as JSON, for the readers that take it (a few resources per call;
    Observations, the bulk, are read as views)."""
    return [as_json(resource) for resource in _resources(data, key)]


def _medications_held(data: PrefetchResult) -> Iterable[dict[str, Any]]:
    """Medication resources the call already holds (e.g. `_include`d), as JSON."""
    for item in data.keys.values():
        for resource in item.resources:
            if resource.resourceType == "Medication":
                yield as_json(resource)


async def run_hook(
    engine: Engine,
    service: Service,
    request: HookRequest,
    context: HookContext,
    policy: FhirAccessPolicy,
    *,
    today: date,
    report: CallReport,
) -> CdsResponse:
    """Answer one validated hook call. Raises DataUnavailable (412) when data can't be had."""
    as_of = today
    started = time.perf_counter()

    data = await resolve_prefetch(
        service.prefetch, request, context, engine.fhir, policy, engine.config.limits
    )
    report.prefetch = data
    # Every key the service templates is required: the rules read all four.
    failed = [k for k, item in data.keys.items() if item.status == "failed"]
    if failed:
        # The reasons name causes (no fhirServer, host not allowed, FHIR 401...), never data.
        reasons = "; ".join(f"{k}: {data.keys[k].reason or 'unavailable'}" for k in failed)
        raise DataUnavailable(
            "Required data is neither in the request's prefetch nor fetchable from fhirServer ("
            + reasons
            + ").",
            expression=[f"prefetch.{k}" for k in failed],
        )
    patients = _json(data, "patient")
    if not patients and data.keys.get("patient") and data.keys["patient"].status != "null":
        raise DataUnavailable(
            "The Patient resource could not be obtained.", expression=["prefetch.patient"]
        )

    draft_bundle = context.draftOrders
    draft_entries = list(draft_order_resources(draft_bundle))
    # Medication look-ups share the call's one FHIR budget with the prefetch fetches.
    spent = time.perf_counter() - started
    remaining = max(engine.config.limits.deadline - spent, 0.05)
    medications = _json(data, "medications")
    medication_index = await resolve_medication_references(
        [*draft_entries, *medications],
        known=_medications_held(data),
        client=engine.fhir,
        request=request,
        policy=policy,
        limits=dataclasses.replace(engine.config.limits, deadline=remaining),
    )
    report.fhir_ms = (time.perf_counter() - started) * 1000

    facts = build_facts(
        patient=patients[0] if patients else None,
        observations=_resources(data, "observations"),
        medications=medications,
        conditions=_json(data, "conditions"),
        medication_index=medication_index,
        terminology=engine.terminology,
        as_of=as_of,
        lab_max_age_days=engine.config.lab_max_age_days,
        patient_id=context.patientId,
    )
    orders: tuple[Medication, ...]
    if draft_bundle is not None:
        orders = read_draft_orders(
            draft_bundle,
            context.selections,
            terminology=engine.terminology,
            medication_index=medication_index,
        )
    else:
        orders = facts.active_medications

    rule_input = RuleInput(
        hook=service.hook, facts=facts, orders=orders, thresholds=engine.config.thresholds
    )
    # The site's rule modes apply here, after the rules and before anything is left out: a
    # rule switched off or silenced never displaces another card or takes its lab offer.
    site = engine.config.site
    fired = fire(rule_input)
    shown = [f for f in fired if site.mode(f.rule_id, service.hook) == "on"]
    silent = [f for f in fired if site.mode(f.rule_id, service.hook) == "silent"]
    findings = select(shown, rule_input)
    rendered = render_cards(
        findings, rule_input, engine.catalog,
        max_cards=_card_budget(engine.config, service.hook, findings),
    )
    if silent:
        report.silent = render_cards(silent, rule_input, engine.catalog, max_cards=len(silent))
    report.cards = rendered
    report.rule_ids = [r.rule_id for r in rendered]
    return CdsResponse(cards=[r.card for r in rendered])


def _card_budget(config: PipelineConfig, hook: str, findings: list[Finding]) -> int:
    """The most cards this call may show: the site's budget for the hook (never fewer than
    the critical cards), within CDS_MAX_CARDS."""
    budget = config.site.budget.get(hook)
    if budget is None:
        return config.max_cards
    critical = sum(1 for finding in findings if finding.indicator == "critical")
    return min(config.max_cards, max(budget, critical))
