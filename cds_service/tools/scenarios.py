"""Scenario files -> validated Scenarios -> the hook request each one sends.

Loading: a path is a scenario file (YAML list) or a directory of them (`*.yaml`, `*.yml`,
recursively). Names must be unique across everything loaded. Problems are collected per file
(LoadError), never raised, so one bad file does not hide the others' results.

Building: the patient data (request, Bundle, inline, or Bundle plus inline) becomes resources,
the orders become drafts, and request_builder fills the prefetch from the service's own
templates. `patch` edits the built request last (dotted paths; null removes), which is how
sandbox-shaped quirks (a draftOrders Bundle without `type`, ...) are produced.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cds_service.clinical.medications import ORDER_TYPES
from cds_service.tools import shorthand
from cds_service.tools.bundles import (
    BundleError,
    Resource,
    load_json,
    patient_id_of,
    resources_from,
)
from cds_service.tools.fhir_memory import MemoryFhir
from cds_service.tools.request_builder import (
    DEFAULT_FHIR_SERVER,
    RequestOptions,
    build_request,
    registry,
)
from cds_service.tools.scenario_model import OrderShort, Raw, Scenario

SUFFIXES = (".yaml", ".yml")

@dataclass(frozen=True, slots=True)
class LoadError:
    file: Path
    message: str


@dataclass(frozen=True, slots=True)
class BuiltRequest:
    """What a scenario sends: the body, to which service, and the EHR's FHIR data behind it."""

    service_id: str
    body: dict[str, Any]
    fhir: MemoryFhir | None  # answers fhirServer queries (prefetch "none", Medication reads)


def scenario_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES))
        else:
            files.append(path)
    return files


def load_scenarios(paths: Iterable[Path]) -> tuple[list[Scenario], list[LoadError]]:
    scenarios: list[Scenario] = []
    errors: list[LoadError] = []
    seen: dict[str, Path] = {}
    for file in scenario_files(paths):
        try:
            loaded = load_file(file)
        except (OSError, yaml.YAMLError, ValueError) as exc:
            errors.append(LoadError(file, _describe(exc)))
            continue
        for scenario in loaded:
            if scenario.name in seen:
                errors.append(
                    LoadError(file, f"{scenario.name}: name also used in {seen[scenario.name]}")
                )
                continue
            seen[scenario.name] = file
            scenarios.append(scenario)
    return scenarios, errors


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping: YAML would keep the last one
    silently, so a second `expect:` or `exact:` could quietly replace the first."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
    seen: set[object] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,
)


def load_file(file: Path) -> list[Scenario]:
    """Every scenario in one file; raises ValueError naming the scenario and field at fault."""
    data = yaml.load(file.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    if not isinstance(data, list):
        raise ValueError("a scenario file is a YAML list of scenarios")
    out = []
    for index, item in enumerate(data):
        name = item.get("name", f"#{index + 1}") if isinstance(item, dict) else f"#{index + 1}"
        try:
            scenario = Scenario.model_validate(item)
        except ValidationError as exc:
            raise ValueError(f"{name}: {_describe(exc)}") from None
        out.append(scenario.model_copy(update={"file": file.resolve()}))
    return out


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:4]:
            where = ".".join(str(p) for p in err["loc"]) or "(root)"
            parts.append(f"{where}: {err['msg']}")
        return "; ".join(parts)
    return str(exc)


def _relative(scenario: Scenario, path: str) -> Path:
    base = scenario.file.parent if scenario.file else Path.cwd()
    return (base / path).resolve()


def patient_resources(scenario: Scenario) -> tuple[list[Resource], str]:
    """The EHR's data for this patient: Bundle resources plus inline ones, and the patient id."""
    resources: list[Resource] = []
    if scenario.bundle:
        resources = resources_from(load_json(_relative(scenario, scenario.bundle)))
        if scenario.chart_as_of:
            resources = [r for r in resources if not _after(r, scenario.as_of)]
    pid = scenario.patient_id
    if pid is None and scenario.patient is not None:
        pid = (
            str(scenario.patient.resource.get("id"))
            if isinstance(scenario.patient, Raw)
            else scenario.patient.id
        )
    if pid is None:
        try:
            pid = patient_id_of(resources)
        except BundleError:
            pid = "pat-1"
    if isinstance(scenario.patient, Raw):
        resources.append(copy.deepcopy(scenario.patient.resource))
    elif scenario.patient is not None:
        resources.append(shorthand.patient(scenario.patient, scenario.as_of))
    for n, lab in enumerate(scenario.labs, start=1):
        resources.append(shorthand.lab(lab, pid, scenario.as_of, n))
    resources.extend(copy.deepcopy(o.resource) for o in scenario.observations)
    for n, cond in enumerate(scenario.conditions, start=1):
        resources.append(
            copy.deepcopy(cond.resource)
            if isinstance(cond, Raw)
            else shorthand.condition(cond, pid, n)
        )
    for n, med in enumerate(scenario.medications, start=1):
        if isinstance(med, Raw):
            resources.append(copy.deepcopy(med.resource))
        else:
            resources.append(shorthand.medication_request(med, pid, n, default_status="active"))
    return resources, pid


def _after(resource: Resource, day: dt.date) -> bool:
    """An Observation dated (effective, else issued) after `day`: not yet in the chart."""
    if resource.get("resourceType") != "Observation":
        return False
    period = resource.get("effectivePeriod")
    stamp = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    if stamp is None and isinstance(period, dict):
        stamp = period.get("start")
    stamp = stamp or resource.get("issued")
    return isinstance(stamp, str) and stamp[:10] > day.isoformat()


def draft_orders(
    scenario: Scenario, resources: list[Resource], pid: str
) -> tuple[list[Resource], list[str]]:
    """The drafts and the `selections` (selected drafts). `take:` moves an order out of the
    patient data into the drafts, as status draft: the clinician is re-ordering it."""
    drafts: list[Resource] = []
    selected: list[str] = []
    for n, order in enumerate(scenario.orders, start=1):
        chosen = True
        if isinstance(order, Raw):
            draft = copy.deepcopy(order.resource)
            draft.setdefault("id", f"draft-{n}")
        elif order.take is not None:
            draft = _take(resources, order)
            chosen = order.selected
        else:
            draft = shorthand.medication_request(order, pid, n, default_status="draft")
            chosen = order.selected
        drafts.append(draft)
        if chosen:
            selected.append(f"{draft.get('resourceType')}/{draft.get('id')}")
    return drafts, selected


def _take(resources: list[Resource], order: OrderShort) -> Resource:
    wanted = str(order.take)
    for i, resource in enumerate(resources):
        if f"{resource.get('resourceType')}/{resource.get('id')}" == wanted:
            if resource.get("resourceType") not in ORDER_TYPES:
                raise BundleError(f"take: {wanted} is not a medication order")
            draft = resources.pop(i)
            draft["status"] = order.status or "draft"
            return draft
    raise BundleError(f"take: {wanted} is not in the patient data")


def build_scenario_request(scenario: Scenario) -> BuiltRequest:
    """The hook request this scenario sends, and the FHIR data behind its fhirServer."""
    service_id = registry().for_hook(scenario.hook).id
    if scenario.request is not None:
        body = load_json(_relative(scenario, scenario.request))
        if not isinstance(body, dict):
            raise BundleError("request: the file is not a JSON object")
        return BuiltRequest(service_id, apply_patch(body, scenario.patch), None)
    resources, pid = patient_resources(scenario)
    drafts, selected = draft_orders(scenario, resources, pid)
    server: str | None = scenario.fhir_server or None
    if scenario.prefetch == "none" and scenario.fhir_server is None:
        server = DEFAULT_FHIR_SERVER
    options = RequestOptions(
        hook=scenario.hook,
        prefetch=scenario.prefetch,
        fhir_server=server,
        selections=scenario.selections if scenario.selections is not None else selected,
    )
    body = build_request(resources, drafts, pid, options)
    if scenario.fhir_server is False:
        body.pop("fhirServer", None)
    fhir = MemoryFhir(resources, base=server) if server else None
    return BuiltRequest(service_id, apply_patch(body, scenario.patch), fhir)


def apply_patch(body: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Set (or, with null, remove) values by dotted path; list items by index: `a.entry.0.x`."""
    for path, value in patch.items():
        parts = path.split(".")
        node: Any = body
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is None:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return body
