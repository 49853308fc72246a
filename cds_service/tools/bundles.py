"""Patient data files -> a flat list of FHIR resources, as an EHR's database would hold them.

Accepted inputs: a Bundle of any type (Synthea transaction Bundles with `urn:uuid:` fullUrls,
collection Bundles with absolute fullUrls, searchsets), a single resource, a JSON list of
resources, or a CDS Hooks request (its prefetch values are the patient data). References to
another entry's fullUrl are rewritten to `Type/id`, so `subject.reference` names the Patient the
way a FHIR server would answer it. Inputs are never modified: resources are deep copies.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

Resource = dict[str, Any]


class BundleError(ValueError):
    """The patient data can't be used as given (the message says why)."""


def load_json(path: Path) -> Any:
    """Parse a JSON file, naming the file on failure."""
    try:
        return copy.deepcopy(_load_cached(path.resolve()))
    except OSError as exc:
        raise BundleError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: not JSON: {exc}") from None


@lru_cache(maxsize=32)
def _load_cached(path: Path) -> Any:
    # The real patient files are up to 2 MB; the scenario table reads some of them many times.
    with path.open("rb") as handle:
        return json.load(handle)


def resources_from(payload: Any) -> list[Resource]:
    """Flatten any accepted input into resources with `Type/id` references (deep copies)."""
    if isinstance(payload, list):
        return [r for item in payload for r in resources_from(item)]
    if not isinstance(payload, dict):
        raise BundleError("expected a FHIR resource, a Bundle, a list or a hook request")
    if "resourceType" not in payload and isinstance(payload.get("prefetch"), dict):
        values = [v for v in payload["prefetch"].values() if isinstance(v, dict)]
        return [r for value in values for r in resources_from(value)]
    if payload.get("resourceType") == "Bundle":
        return bundle_resources(payload)
    if isinstance(payload.get("resourceType"), str):
        return [copy.deepcopy(payload)]
    raise BundleError("a JSON object without resourceType is not a FHIR resource")


def bundle_resources(bundle: Mapping[str, Any]) -> list[Resource]:
    """The entry resources of a Bundle, ids filled in from fullUrl, references resolved."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    out: list[Resource] = []
    aliases: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        resource = copy.deepcopy(entry["resource"])
        if not isinstance(resource.get("resourceType"), str):
            continue
        if resource["resourceType"] == "Bundle":
            out.extend(bundle_resources(resource))
            continue
        full_url = entry.get("fullUrl")
        if not isinstance(resource.get("id"), str) and isinstance(full_url, str):
            resource["id"] = _id_from_url(full_url)
        if isinstance(full_url, str) and isinstance(resource.get("id"), str):
            aliases[full_url] = f"{resource['resourceType']}/{resource['id']}"
        out.append(resource)
    for resource in out:
        _rewrite_references(resource, aliases)
    return out


def _id_from_url(url: str) -> str:
    """`urn:uuid:abc` -> `abc`; `https://x/base/Observation/p2` -> `p2`."""
    return url.rsplit(":", 1)[-1] if url.startswith("urn:") else url.rstrip("/").rsplit("/", 1)[-1]


def _rewrite_references(node: Any, aliases: Mapping[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and ref in aliases:
            node["reference"] = aliases[ref]
        for value in node.values():
            _rewrite_references(value, aliases)
    elif isinstance(node, list):
        for item in node:
            _rewrite_references(item, aliases)


def reference_key(reference: object) -> str | None:
    """`Patient/123`, `https://x/fhir/Patient/123`, `Patient/123/_history/2` -> `Patient/123`."""
    if not isinstance(reference, str) or not reference.strip():
        return None
    path = reference.strip().split("/_history/")[0].rstrip("/")
    parts = path.split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


def patient_reference(resource: Mapping[str, Any]) -> str | None:
    """Whose resource this is: `subject` (R4, STU3) or `patient` (DSTU2 MedicationOrder)."""
    for field in ("subject", "patient"):
        value = resource.get(field)
        if isinstance(value, dict):
            key = reference_key(value.get("reference"))
            if key and key.startswith("Patient/"):
                return key
    return None


def patient_id_of(resources: Iterable[Resource], explicit: str | None = None) -> str:
    """The one patient these resources are about: an explicit id, the Patient resource, or the
    patient every clinical resource points at."""
    if explicit:
        return explicit.removeprefix("Patient/")
    listed = list(resources)
    patients = [r["id"] for r in listed if r.get("resourceType") == "Patient" and r.get("id")]
    if len(set(patients)) == 1:
        return str(patients[0])
    if len(set(patients)) > 1:
        raise BundleError(f"{len(patients)} Patient resources: name one with --patient-id")
    pointed = Counter(p for r in listed if (p := patient_reference(r)))
    if len(pointed) == 1:
        return next(iter(pointed)).removeprefix("Patient/")
    if not pointed:
        raise BundleError("no Patient resource and no patient references: give --patient-id")
    raise BundleError("resources point at several patients: name one with --patient-id")
