"""Benchmark payloads derived from the given 80 KB request (bench/payload_order_select.json).

The given request carries 100 Observations in prefetch `observations`. The benchmark also needs
10 and 1,000:

- fewer (10): a subset. The newest result of each LOINC code first (so every analyte the rules
  read is still there), then the newest of the rest, kept in the bundle's `-date` order.
- more (1,000): replicas of the 100 with fresh ids (`<id>-r<k>`, fullUrl to match) and dates
  shifted back by `k` days for replica `k` (1..9). The history stays dense and recent (replicas
  fall inside the same three years, many inside the rules' 365-day lab window), which is the
  costlier case for the rules; the original results stay the newest of their code, so the
  clinical picture, and the cards, do not change.

`without_prefetch` makes the fallback request: no prefetch, `fhirServer` pointing at the stub.
`stub_resources` is what bench/fhir_stub.py answers with.

    python bench/payloads.py --out /tmp/payloads   # write the derived requests for inspection
"""

from __future__ import annotations

import argparse
import copy
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ORDER_SELECT = HERE / "payload_order_select.json"
PATIENT_VIEW = HERE / "payload_patient_view.json"

# The payload's generic prefetch key -> our service's prefetch key (same names, by luck).
KEY_MAP = {
    "patient": "patient",
    "observations": "observations",
    "medications": "medications",
    "conditions": "conditions",
}

DATE_FIELDS = ("effectiveDateTime", "effectiveInstant", "issued")
PERIOD_FIELDS = ("effectivePeriod",)
SHIFT_DAYS_PER_REPLICA = 1


def load(path: Path = ORDER_SELECT) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(path.read_text())
    prefetch = payload.get("prefetch") or {}
    payload["prefetch"] = {KEY_MAP.get(k, k): v for k, v in prefetch.items()}
    return payload


def _obs_date(resource: dict[str, Any]) -> str:
    for name in DATE_FIELDS:
        if isinstance(resource.get(name), str):
            return str(resource[name])
    period = resource.get("effectivePeriod") or {}
    return str(period.get("start") or period.get("end") or "")


def _sort_key(resource: dict[str, Any]) -> datetime:
    text = _obs_date(resource)
    if not text:
        return datetime.min
    value = datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text else None
    if value is None:
        return datetime.fromisoformat(text[:10])
    return value.replace(tzinfo=None) - (value.utcoffset() or timedelta(0))


def _code(resource: dict[str, Any]) -> str:
    codings = (resource.get("code") or {}).get("coding") or [{}]
    return f"{codings[0].get('system')}|{codings[0].get('code')}"


def _shift(text: str, days: int) -> str:
    if "T" not in text:
        return (date.fromisoformat(text[:10]) - timedelta(days=days)).isoformat() + text[10:]
    value = datetime.fromisoformat(text.replace("Z", "+00:00")) - timedelta(days=days)
    out = value.isoformat()
    return out.replace("+00:00", "Z") if text.endswith("Z") else out


def _replica(entry: dict[str, Any], k: int) -> dict[str, Any]:
    entry = copy.deepcopy(entry)
    resource = entry["resource"]
    old_id = resource["id"]
    resource["id"] = f"{old_id}-r{k}"
    if isinstance(entry.get("fullUrl"), str):
        entry["fullUrl"] = entry["fullUrl"].rsplit("/", 1)[0] + "/" + resource["id"]
    days = k * SHIFT_DAYS_PER_REPLICA
    for name in DATE_FIELDS:
        if isinstance(resource.get(name), str):
            resource[name] = _shift(resource[name], days)
    for name in PERIOD_FIELDS:
        period = resource.get(name)
        if isinstance(period, dict):
            for end in ("start", "end"):
                if isinstance(period.get(end), str):
                    period[end] = _shift(period[end], days)
    return entry


def observation_entries(entries: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """`n` Observation entries derived from `entries` (see the module docstring)."""
    by_date = sorted(entries, key=lambda e: _sort_key(e["resource"]), reverse=True)
    if n <= len(by_date):
        chosen: list[dict[str, Any]] = []
        seen: set[str] = set()
        for entry in by_date:  # newest of each code first
            code = _code(entry["resource"])
            if code not in seen:
                seen.add(code)
                chosen.append(entry)
        for entry in by_date:
            if len(chosen) >= n:
                break
            if not any(entry is c for c in chosen):
                chosen.append(entry)
        chosen = chosen[:n]
        return copy.deepcopy(sorted(chosen, key=lambda e: _sort_key(e["resource"]), reverse=True))
    out = copy.deepcopy(by_date)
    k = 1
    while len(out) < n:
        out.extend(_replica(e, k) for e in by_date[: n - len(out)])
        k += 1
    ids = [e["resource"]["id"] for e in out]
    assert len(ids) == len(set(ids)), "replica ids must be unique"
    return sorted(out, key=lambda e: _sort_key(e["resource"]), reverse=True)


def with_observations(payload: dict[str, Any], n: int) -> dict[str, Any]:
    """A copy of `payload` whose prefetch `observations` Bundle holds `n` entries."""
    out = copy.deepcopy(payload)
    bundle = out["prefetch"]["observations"]
    bundle["entry"] = observation_entries(bundle.get("entry") or [], n)
    bundle["total"] = n
    return out


def without_prefetch(payload: dict[str, Any], fhir_server: str) -> dict[str, Any]:
    """The fallback request: no prefetch at all, data to be fetched from `fhir_server`."""
    out = copy.deepcopy(payload)
    out.pop("prefetch", None)
    out["fhirServer"] = fhir_server
    out.pop("fhirAuthorization", None)
    return out


def stub_resources(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload's prefetch content, as the stub serves it: Patient + three searchsets."""
    prefetch = payload["prefetch"]
    return {
        "Patient": prefetch["patient"],
        "Observation": prefetch["observations"],
        "MedicationRequest": prefetch["medications"],
        "Condition": prefetch["conditions"],
    }


def dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    base = load()
    for n in (int(s) for s in args.sizes.split(",")):
        path = args.out / f"order_select_{n}.json"
        path.write_bytes(dumps(with_observations(base, n)))
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
