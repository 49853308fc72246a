"""`cds-service evaluate`: run hook request files through the real pipeline, in-process.

For integration engineers and card authors: see what a request produces without a server, an
EHR or a JWT. Each file goes through exactly what `POST /cds-services/{id}` runs after
authentication (the body limit, then `hooks.call.answer_call` on an Engine from
`build_engine`: the one request path), so `--json` prints the very body the API would answer,
and a refused request prints the API's OperationOutcome. Nothing is written to the feedback store.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
import typer
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cds_service.api.body import parse_json_object
from cds_service.api.errors import response_for
from cds_service.api.services import access_policy
from cds_service.app import build_engine
from cds_service.cards.render import RenderedCard
from cds_service.cdshooks.response import Action
from cds_service.commands._common import console, settings_or_exit
from cds_service.errors import CdsError, PayloadTooLarge
from cds_service.fhir.access import FhirAccessPolicy
from cds_service.hooks.call import answer_call, utc_today
from cds_service.hooks.pipeline import CallReport, Engine
from cds_service.hooks.registry import Registry, Service, build_registry
from cds_service.security.principal import ANONYMOUS
from cds_service.settings import Settings

EXIT_REQUEST_ERROR = 2  # the API would answer 400/404/413/415: the request file is wrong
EXIT_DATA_UNAVAILABLE = 3  # the API would answer 412: required data neither sent nor fetchable

_COLOURS = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_SYSTEMS = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://loinc.org": "LOINC",
    "http://snomed.info/sct": "SNOMED CT",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
}


@dataclass(slots=True)
class Outcome:
    """One request file's answer: the HTTP status and body the API would send."""

    path: Path
    service_id: str | None
    status: int
    body: bytes
    cards: list[RenderedCard] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: list[KeyLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class KeyLine:
    """How one prefetch key was obtained (no PHI: counts and the pipeline's own reason)."""

    key: str
    status: str
    count: int
    reason: str | None

    def __str__(self) -> str:
        text = f"prefetch.{self.key}: {self.status}"
        if self.status in ("supplied", "fetched"):
            text += f", {self.count} resource{'s' if self.count != 1 else ''}"
        return text + (f" ({self.reason})" if self.reason else "")


def evaluate(
    requests: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="REQUEST.json",
            help="Hook request bodies (what an EHR POSTs to /cds-services/{id}).",
        ),
    ],
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print the exact HTTP response body, one line per request."),
    ] = False,
    fhir_server: Annotated[
        str | None,
        typer.Option(
            "--fhir-server",
            metavar="URL",
            help="Set the request's fhirServer: prefetch keys that are missing are fetched "
            "from it, without a token. A loopback URL (localhost, 127.0.0.1) is allowed.",
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(
            "--service",
            metavar="ID",
            help="Service id; default: muscle-cramps-<the request's hook>.",
        ),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            metavar="DATE",
            help="Evaluate as of this date (ISO, e.g. 2026-11-15): "
            "ages and lab freshness are computed from it. Default: today (UTC).",
        ),
    ] = None,
) -> None:
    """Run hook requests through the service's pipeline in-process and print the cards."""
    as_of = _parse_today(today)
    if fhir_server is not None:
        _check_fhir_server(fhir_server)
    settings = settings_or_exit()
    outcomes = asyncio.run(
        evaluate_files(settings, requests, service_id=service, fhir_server=fhir_server, today=as_of)
    )
    out = console()
    for outcome in outcomes:
        for note in outcome.notes:
            typer.echo(f"{outcome.path}: {note}", err=True)
        if json_output:
            for line in outcome.data if outcome.status >= 400 else ():
                typer.echo(f"{outcome.path}: {line}", err=True)  # why a 412 happened
            typer.echo(outcome.body.decode())
        else:
            print_outcome(out, outcome)
    raise typer.Exit(exit_code(outcomes))


async def evaluate_files(
    settings: Settings,
    paths: list[Path],
    *,
    service_id: str | None = None,
    fhir_server: str | None = None,
    today: date | None = None,
) -> list[Outcome]:
    """Evaluate each file in turn with one Engine (content loaded once, one FHIR client)."""
    engine = build_engine(settings)
    registry = build_registry(engine.terminology.observation_query_codes())
    policy = cli_access_policy(settings, fhir_server)
    try:
        return [
            await _evaluate_one(
                engine,
                registry,
                policy,
                settings,
                path,
                service_id=service_id,
                fhir_server=fhir_server,
                today=today,
            )
            for path in paths
        ]
    finally:
        await engine.fhir.aclose()


async def _evaluate_one(
    engine: Engine,
    registry: Registry,
    policy: FhirAccessPolicy,
    settings: Settings,
    path: Path,
    *,
    service_id: str | None,
    fhir_server: str | None,
    today: date | None,
) -> Outcome:
    """The API's order of checks: service id 404 -> body 413/400 -> fields 400 -> 412 -> 200."""
    report = CallReport()
    service: Service | None = None
    notes: list[str] = []
    try:
        if service_id is not None:
            service = registry.get(service_id)
        raw = path.read_bytes()
        if len(raw) > settings.max_body_bytes:
            raise PayloadTooLarge(
                f"The request body is larger than {settings.max_body_bytes} bytes."
            )
        if fhir_server is not None:
            body = parse_json_object(raw, max_depth=settings.max_json_depth)
            notes.extend(set_fhir_server(body, fhir_server))
            raw = orjson.dumps(body)
        response = await answer_call(
            engine,
            registry,
            raw,
            service_id=service_id,
            policy=lambda _request: policy,
            today=today or utc_today(),
            report=report,
        )
    except CdsError as exc:
        error = response_for(exc)
        service_name = report.service_id or (service.id if service else None)
        return Outcome(
            path, service_name, exc.status_code, bytes(error.body), [], notes, data_lines(report)
        )
    answer = orjson.dumps(response.to_json())
    return Outcome(path, report.service_id, 200, answer, report.cards, notes, data_lines(report))


def data_lines(report: CallReport) -> list[KeyLine]:
    if report.prefetch is None:
        return []
    return [
        KeyLine(key, item.status, len(item.resources), item.reason)
        for key, item in report.prefetch.keys.items()
    ]


def set_fhir_server(body: dict[str, Any], fhir_server: str) -> list[str]:
    """Point the request at `fhir_server`. A token the EHR lent for another server is dropped:
    sending it to a different host would leak it."""
    notes = []
    previous = body.get("fhirServer")
    if "fhirAuthorization" in body and (
        not isinstance(previous, str) or previous.rstrip("/") != fhir_server.rstrip("/")
    ):
        del body["fhirAuthorization"]
        notes.append("fhirAuthorization dropped: it was issued for another fhirServer")
    body["fhirServer"] = fhir_server
    return notes


def cli_access_policy(settings: Settings, fhir_server: str | None) -> FhirAccessPolicy:
    """Which FHIR servers the CLI may call.

    With `--fhir-server`: that host only, without a token, and a loopback host is fine because
    the user typed it (a private, non-loopback address still needs
    CDS_FHIR_ALLOW_PRIVATE_ADDRESSES). Without it: the same policy as an unauthenticated API
    caller (CDS_FHIR_ALLOWED_HOSTS, CDS_FHIR_ALLOW_*), since the fhirServer comes from a file.
    """
    if fhir_server is None:
        return access_policy(settings, ANONYMOUS)
    host = (urlsplit(fhir_server).hostname or "").rstrip(".")
    return FhirAccessPolicy(
        allowed_bases=None,
        allowed_hosts=(host,),
        allow_private=_is_loopback(host) or settings.fhir_allow_private_addresses,
        allow_unauthenticated=True,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exit_code(outcomes: list[Outcome]) -> int:
    """0 when every request was answered; else the worst: 3 for a 412, 2 for other errors."""
    codes = [
        0 if o.status < 400 else EXIT_DATA_UNAVAILABLE if o.status == 412 else EXIT_REQUEST_ERROR
        for o in outcomes
    ]
    return max(codes, default=0)


def _parse_today(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            "expected an ISO date such as 2026-11-15", param_hint="--today"
        ) from None


def _check_fhir_server(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter("expected an absolute http(s) URL", param_hint="--fhir-server")


# --- readable output ------------------------------------------------------------------------


def print_outcome(out: Console, outcome: Outcome) -> None:
    where = f"{outcome.path} → {outcome.service_id or '?'}"
    if outcome.status >= 400:
        out.rule(Text(f"{where}: HTTP {outcome.status}", style="bold red"), align="left")
        print_data(out, outcome)
        # Plain echo, not rich: wrapping a long line would break the JSON.
        typer.echo(json.dumps(json.loads(outcome.body), indent=2, ensure_ascii=False))
        return
    count = len(outcome.cards)
    out.rule(Text(f"{where}: {count} card{'s' if count != 1 else ''}", style="bold"), align="left")
    print_data(out, outcome)
    if not outcome.cards:
        out.print("No cards.")
    for rendered in outcome.cards:
        out.print(card_panel(rendered))


def print_data(out: Console, outcome: Outcome) -> None:
    """Where each prefetch key came from: the first thing to look at when a card is missing."""
    for line in outcome.data:
        out.print(Text(str(line), style="red" if line.status == "failed" else "dim"))


def card_panel(rendered: RenderedCard) -> Panel:
    """One card as a clinician-reviewer wants to read it: what, why (evidence), what to do."""
    card, finding = rendered.card, rendered.finding
    colour = _COLOURS.get(card.indicator, "")
    parts: list[RenderableType] = [
        Text(card.summary, style="bold"),
        Text.assemble(("rule ", "dim"), rendered.rule_id, ("   source ", "dim"), card.source.label),
    ]
    if finding.evidence:
        evidence = Table(box=None, show_header=False, padding=(0, 2, 0, 0), pad_edge=False)
        for item in finding.evidence:
            evidence.add_row(
                Text(item.label, style="bold"),
                Text(item.value),
                Text(item.when.isoformat() if item.when else "", style="dim"),
                Text(item.source_id or "", style="dim"),
            )
        parts += [Text("Evidence", style="underline"), evidence]
    if card.suggestions:
        parts.append(Text(f"Suggestions ({card.selectionBehavior})", style="underline"))
        for suggestion in card.suggestions:
            label = Text.assemble("• ", suggestion.label)
            if suggestion.isRecommended:
                label.append("  [recommended]", style="green")
            parts.append(label)
            parts += [
                Text(f"    {describe_action(a)}", style="dim") for a in suggestion.actions or ()
            ]
    if card.overrideReasons:
        reasons = "; ".join(f"{r.display} ({r.code})" for r in card.overrideReasons)
        parts.append(Text.assemble(("Override reasons: ", "underline"), reasons))
    return Panel(
        Group(*parts),
        title=Text(f" {card.indicator.upper()} ", style=colour),
        title_align="left",
        border_style=colour,
    )


def describe_action(action: Action) -> str:
    """`delete MedicationRequest/abc`, `create MedicationRequest RxNorm 105918 (baclofen ...)`."""
    if action.type == "delete":
        return f"delete {action.resourceId}"
    resource = action.resource or {}
    text = f"{action.type} {resource.get('resourceType', '?')}"
    concept = resource.get("medicationCodeableConcept") or resource.get("code")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if isinstance(codings, list) and codings and isinstance(codings[0], dict):
        coding = codings[0]
        system = str(coding.get("system", ""))
        text += f" {_SYSTEMS.get(system, system)} {coding.get('code', '?')}"
        if coding.get("display"):
            text += f" ({coding['display']})"
    return text
