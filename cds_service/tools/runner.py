"""Run scenarios through the service's own pipeline, in-process, and judge the answers.

Each request goes through what `POST /cds-services/{id}` runs after authentication
(`hooks.call.answer_call` on an Engine from `build_engine`, from the request's bytes), with
`today` fixed to the scenario's `as_of`. The EHR's FHIR server is the scenario's own data, served
by MemoryFhirTransport, so no-prefetch scenarios never touch the network.

Verdicts: pass; fail; xfail (failed as the scenario's `xfail` reason says: a known clinical
disagreement, kept visible); xpass (an xfail scenario now passes: remove its `xfail`); error (the
scenario could not be built). fail, xpass and error fail the table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import orjson

from cds_service.app import build_engine
from cds_service.cdshooks.request import HookRequest
from cds_service.errors import CdsError
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.hooks.call import answer_call
from cds_service.hooks.pipeline import CallReport, Engine
from cds_service.settings import Settings
from cds_service.tools.bundles import BundleError
from cds_service.tools.expectations import compare
from cds_service.tools.fhir_memory import MemoryFhirTransport, UnsupportedQuery
from cds_service.tools.outcome import Observed, SeenCard, from_rendered
from cds_service.tools.request_builder import registry
from cds_service.tools.scenario_model import Scenario
from cds_service.tools.scenarios import BuiltRequest, build_scenario_request

Verdict = Literal["pass", "fail", "xfail", "xpass", "error"]
FAILING: frozenset[str] = frozenset({"fail", "xpass", "error"})
BUILD_ERRORS = (BundleError, UnsupportedQuery, KeyError, IndexError, ValueError, TypeError)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    file: Path | None
    hook: str
    verdict: Verdict
    reasons: tuple[str, ...]
    cards: tuple[SeenCard, ...] = ()
    status: int | None = None

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING


def judge(scenario: Scenario, observed: Observed) -> ScenarioResult:
    """Compare, then apply `xfail`."""
    reasons = compare(scenario.expect, observed)
    if scenario.xfail:
        verdict: Verdict = "xfail" if reasons else "xpass"
        if not reasons:
            reasons = [f"passes now: remove xfail ({scenario.xfail})"]
        else:
            reasons = [f"known disagreement: {scenario.xfail}", *reasons]
    else:
        verdict = "fail" if reasons else "pass"
    return ScenarioResult(
        scenario.name, scenario.file, scenario.hook, verdict, tuple(reasons),
        observed.cards, observed.status,
    )  # fmt: skip


def build_error(scenario: Scenario, exc: Exception) -> ScenarioResult:
    reason = f"could not build the request: {type(exc).__name__}: {exc}"
    return ScenarioResult(scenario.name, scenario.file, scenario.hook, "error", (reason,))


def scenario_policy(request: HookRequest) -> FhirAccessPolicy:
    """The sent fhirServer is the scenario's in-memory EHR: allow it (and nothing else)."""
    host = urlsplit(request.fhirServer).hostname if request.fhirServer else None
    return FhirAccessPolicy(
        allowed_bases=None,
        allowed_hosts=(host,) if host else (),
        allow_private=True,
        allow_unauthenticated=True,
    )


class InProcessRunner:
    """One Engine for many scenarios; the FHIR transport is pointed at each scenario's data."""

    def __init__(self, settings: Settings) -> None:
        self.transport = MemoryFhirTransport()
        self.engine: Engine = build_engine(settings, fhir_transport=self.transport)

    async def observe(self, built: BuiltRequest, today: date) -> Observed:
        try:
            report = CallReport()
            self.transport.source = built.fhir
            await answer_call(
                self.engine,
                registry(),
                orjson.dumps(built.body),
                service_id=built.service_id,
                policy=scenario_policy,
                today=today,
                report=report,
            )
        except CdsError as exc:
            return Observed(exc.status_code, (), exc.message)
        finally:
            self.transport.source = None
        return Observed(200, from_rendered(report.cards))

    async def run(self, scenario: Scenario) -> ScenarioResult:
        try:
            built = build_scenario_request(scenario)
        except BUILD_ERRORS as exc:
            return build_error(scenario, exc)
        return judge(scenario, await self.observe(built, scenario.as_of))

    async def aclose(self) -> None:
        await self.engine.fhir.aclose()


def run_in_process(scenarios: Sequence[Scenario], settings: Settings) -> list[ScenarioResult]:
    async def go() -> list[ScenarioResult]:
        runner = InProcessRunner(settings)
        try:
            return [await runner.run(s) for s in scenarios]
        finally:
            await runner.aclose()

    return asyncio.run(go())
