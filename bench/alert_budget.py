"""Alert budget: how many cards a clinician sees when opening a chart (patient-view), and how
long they are, over a population of varied patients.

    .venv/bin/python bench/alert_budget.py                     # 2,000 generated + 9 real patients
    .venv/bin/python bench/alert_budget.py --patients 500 --seed 7
    .venv/bin/python bench/alert_budget.py --json              # machine-readable

Population: the real patients in fixtures/conformance/fhir (Synthea, SMART sample patients,
FHIR R4 and US Core examples; a Patient resource is composed where a file has none), each
chart opened a week after its newest lab, plus generated patients (seeded, so a run is
repeatable): ages from childhood to 95 weighted to older adults, kidney function falling with
age (CKD coded for some, dialysis for some below 15), cramps, cirrhosis, hypothyroidism,
hospice, pregnancy at their usual frequencies, common drug lists (statins, ACE inhibitors and
ARBs, loop and thiazide diuretics, spironolactone, metformin, PPIs, magnesium and potassium
supplements, benzodiazepines, muscle relaxants, baclofen, quinine now and then) and labs with
realistic distributions, units (US mg/dL and mEq/L, SI mmol/L), reference ranges and flags
present or absent, and tests missing as they are in real charts.

Each chart open runs in-process through the real pipeline (`answer_call` on an Engine from
`build_engine`, the settings as shipped). Reported: cards per chart open (median, p95, max, a
histogram), cards by indicator and by card, charts where one drug got more than one card, and
the words of each card's detail before its "Data used for this patient" section (median, p95,
max), against the issue-10 targets: median <= 1 and p95 <= 3 cards per chart open, <= 80 words.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cds_service.app import build_engine  # noqa: E402
from cds_service.hooks.call import answer_call  # noqa: E402
from cds_service.hooks.pipeline import CallReport  # noqa: E402
from cds_service.tools import shorthand  # noqa: E402
from cds_service.tools.bundles import Resource, load_json, resources_from  # noqa: E402
from cds_service.tools.request_builder import RequestOptions, build_request, registry  # noqa: E402
from cds_service.tools.runner import scenario_policy  # noqa: E402
from cds_service.tools.scenario_model import (  # noqa: E402
    ConditionShort,
    LabShort,
    OrderShort,
    PatientShort,
)
from cds_service.tools.validation_doc import pristine_settings  # noqa: E402

REAL_DIR = ROOT / "fixtures" / "conformance" / "fhir"
TARGET_MEDIAN_CARDS = 1
TARGET_P95_CARDS = 3
TARGET_WORDS = 80
# A chart is "in scope" when the guideline has something to look at: cramps on the problem
# list, or a drug it covers. Judged from the data, not from the service's answer.
CRAMP_CONDITIONS = frozenset({"R25.2", "G47.62", "55300003", "449918009"})
GUIDELINE_DRUG = re.compile(
    r"\b(magnesium|potassium (chloride|citrate|bicarbonate|gluconate|phosphate|acetate)"
    r"|quinine|quinidine|baclofen|cyclobenzaprine|methocarbamol|carisoprodol|metaxalone"
    r"|chlorzoxazone|orphenadrine|\w+azepam|\w+azolam|chlordiazepoxide|clobazam|clorazepate)",
    re.IGNORECASE,
)
DATA_SECTION = re.compile(r"\*\*(Data used for this patient|Data notes|Strength of evidence)")
WORD = re.compile(r"[A-Za-z0-9]")

# Patients the real files refer to but do not contain (composed, as the scenario table does).
COMPOSED_PATIENTS = {
    "pat2": ("1935-01-10", "female"),  # Bundle-ghp
    "f201": ("1960-03-01", "male"),  # "Roel" in the FHIR examples
    "pat1": ("1944-11-17", "male"),  # "Pieter van de Heuvel" in the FHIR examples
    "example": ("1987-02-20", "female"),  # US Core's Amy Shaw
    "smart-2042917": ("1985-06-12", "male"),  # upstream patient-2042917.fhir-bundle.01.json
}
UNDATED_CHART_DAY = date(2015, 1, 15)


@dataclass(frozen=True, slots=True)
class Chart:
    """One patient's data and the day the chart is opened."""

    label: str
    real: bool
    patient_id: str
    as_of: date
    resources: list[Resource]


def in_scope(resources: Iterable[Resource]) -> bool:
    for r in resources:
        if r.get("resourceType") == "Condition":
            codes = {c.get("code") for c in (r.get("code") or {}).get("coding", [])}
            if codes & CRAMP_CONDITIONS:
                return True
        elif r.get("resourceType") in ("MedicationRequest", "MedicationOrder") and (
            GUIDELINE_DRUG.search(json.dumps(r.get("medicationCodeableConcept") or {}))
        ):
            return True
    return False


@dataclass(frozen=True, slots=True)
class SeenCard:
    indicator: str
    card_key: str
    words: int
    order: str | None  # the drug the card is about (None: about the patient)


@dataclass(frozen=True, slots=True)
class Opened:
    chart: Chart
    cards: tuple[SeenCard, ...] = ()
    error: str | None = None


# ---------------------------------------------------------------------------------------------
# The real patients


def _dates(resource: Resource) -> Iterable[str]:
    for key in ("effectiveDateTime", "issued", "authoredOn", "onsetDateTime", "recordedDate"):
        value = resource.get(key)
        if isinstance(value, str) and len(value) >= 10:
            yield value[:10]


def real_charts(directory: Path = REAL_DIR) -> list[Chart]:
    """Every patient of the real files, each chart opened a week after its newest lab."""
    by_patient: dict[str, list[Resource]] = {}
    files: dict[str, str] = {}
    for file in sorted(directory.glob("*.json")):
        for resource in resources_from(load_json(file)):
            if resource.get("resourceType") == "Patient":
                pid = str(resource.get("id"))
            else:
                ref = resource.get("subject") or resource.get("patient") or {}
                text = ref.get("reference", "") if isinstance(ref, dict) else ""
                pid = text.removeprefix("Patient/") if text.startswith("Patient/") else ""
            by_patient.setdefault(pid, []).append(resource)
            files.setdefault(pid, file.stem.split("__")[-1][:40])
    shared = by_patient.pop("", [])  # e.g. a Medication another file refers to
    charts = []
    for pid, resources in sorted(by_patient.items()):
        if not any(r.get("resourceType") == "Patient" for r in resources):
            born, gender = COMPOSED_PATIENTS[pid]
            resources.append({"resourceType": "Patient", "id": pid, "birthDate": born,
                              "gender": gender})  # fmt: skip
        labs = [d for r in resources if r.get("resourceType") == "Observation" for d in _dates(r)]
        any_dates = [d for r in resources for d in _dates(r)]
        newest = max(labs or any_dates, default=None)
        day = date.fromisoformat(newest) + timedelta(days=7) if newest else UNDATED_CHART_DAY
        charts.append(Chart(files[pid], True, pid, day, [*resources, *shared]))
    return charts


# ---------------------------------------------------------------------------------------------
# The generated patients

Drug = tuple[str, str]  # (RxNorm code, display)
ATORVASTATIN: Drug = ("617310", "atorvastatin 20 MG Oral Tablet")
SIMVASTATIN: Drug = ("312961", "simvastatin 20 MG Oral Tablet")
LISINOPRIL: Drug = ("314076", "lisinopril 10 MG Oral Tablet")
LOSARTAN: Drug = ("979492", "losartan potassium 50 MG Oral Tablet")
AMLODIPINE: Drug = ("197361", "amlodipine 5 MG Oral Tablet")
FUROSEMIDE: Drug = ("313988", "furosemide 40 MG Oral Tablet")
HCTZ: Drug = ("310798", "hydrochlorothiazide 25 MG Oral Tablet")
SPIRONOLACTONE: Drug = ("313096", "spironolactone 25 MG Oral Tablet")
METFORMIN: Drug = ("861007", "metformin hydrochloride 500 MG Oral Tablet")
LEVOTHYROXINE: Drug = ("966222", "levothyroxine sodium 0.075 MG Oral Tablet")
OMEPRAZOLE: Drug = ("7646", "omeprazole")
GABAPENTIN: Drug = ("310431", "gabapentin 300 MG Oral Capsule")
TMP_SMX: Drug = ("198335", "sulfamethoxazole 800 MG / trimethoprim 160 MG Oral Tablet")
MAGNESIUM_OXIDE: Drug = ("198741", "magnesium oxide 400 MG Oral Tablet")
MILK_OF_MAGNESIA: Drug = ("253017", "magnesium hydroxide 80 MG/ML Oral Suspension")
KCL: Drug = ("198116", "potassium chloride 20 MEQ Extended Release Oral Tablet")
BENZODIAZEPINES: tuple[Drug, ...] = (
    ("197900", "lorazepam 0.5 MG Oral Tablet"),
    ("308047", "alprazolam 0.25 MG Oral Tablet"),
    ("198241", "temazepam 15 MG Oral Capsule"),
    ("197527", "clonazepam 0.5 MG Oral Tablet"),
)
CYCLOBENZAPRINE: Drug = ("828320", "cyclobenzaprine hydrochloride 5 MG Oral Tablet")
METHOCARBAMOL: Drug = ("197943", "methocarbamol 500 MG Oral Tablet")
BACLOFEN: Drug = ("197391", "baclofen 10 MG Oral Tablet")
QUININE: Drug = ("997010", "quinine sulfate 324 MG Oral Capsule")
# Common drugs outside the guideline (ingredient-level RxNorm codes, as some EHRs send), with
# how often an older adult takes each: they make the lists as long as real ones.
OTHER_DRUGS: tuple[tuple[str, str, float], ...] = (
    ("6918", "metoprolol succinate 50 mg extended-release tablet", 0.22),
    ("161", "acetaminophen 500 mg tablet", 0.25),
    ("1191", "aspirin 81 mg enteric-coated tablet", 0.3),
    ("2418", "cholecalciferol 1000 unit capsule", 0.2),
    ("36437", "sertraline 50 mg tablet", 0.1),
    ("77492", "tamsulosin 0.4 mg capsule", 0.1),
    ("1364430", "apixaban 5 mg tablet", 0.08),
    ("135447", "donepezil 10 mg tablet", 0.05),
    ("519", "allopurinol 100 mg tablet", 0.06),
    ("435", "albuterol 90 mcg/actuation inhaler", 0.08),
    ("274783", "insulin glargine 100 unit/mL pen", 0.07),
)
CRAMP_CODES = ("R25.2", "G47.62", "snomed|55300003")


@dataclass
class _Patient:
    """What the generator decided about one patient, before it becomes FHIR."""

    age: int
    female: bool
    egfr: float
    conditions: list[str] = field(default_factory=list)
    drugs: list[OrderShort] = field(default_factory=list)
    labs: list[LabShort] = field(default_factory=list)


def _age(rng: random.Random) -> int:
    band = rng.random()
    if band < 0.08:
        return rng.randint(2, 17)
    if band < 0.50:
        return rng.randint(18, 64)
    return min(95, 65 + int(rng.expovariate(1 / 10)))


def _egfr(rng: random.Random, age: int) -> float:
    expected = 110.0 if age < 30 else 110.0 - 0.9 * (age - 30)
    return round(max(6.0, min(130.0, rng.gauss(expected, 16))), 0)


def _kidney_conditions(rng: random.Random, p: _Patient) -> None:
    if p.egfr >= 60 or rng.random() > 0.55:
        return
    if p.egfr < 13 and rng.random() < 0.8:
        p.conditions += ["N18.6", "Z99.2"]
    elif p.egfr < 30:
        p.conditions.append("N18.4" if p.egfr >= 15 else "N18.5")
    else:
        p.conditions.append(rng.choice(["N18.31" if p.egfr >= 45 else "N18.32", "N18.9",
                                        "snomed|433144002"]))  # fmt: skip


def _order(drug: Drug, reason: str | None = None) -> OrderShort:
    """An active order; `reason` is a code (R25.2) or, in lower case, the prescriber's text."""
    coded = reason is not None and reason[:1].isupper()
    return OrderShort(rxnorm=drug[0], display=drug[1], reason=reason if coded else None,
                      reason_text=None if coded else reason)  # fmt: skip


def _drugs(rng: random.Random, p: _Patient) -> None:
    older, adult = p.age >= 65, p.age >= 18
    cramps = any(c in CRAMP_CODES for c in p.conditions)
    cirrhosis = "K74.60" in p.conditions
    scale = 1.0 if older else 0.4 if adult else 0.03

    def maybe(chance: float, drug: Drug, reason: str | None = None) -> bool:
        if rng.random() < chance:
            p.drugs.append(_order(drug, reason))
            return True
        return False

    maybe(0.45 * scale, rng.choice([ATORVASTATIN, SIMVASTATIN]))
    if not maybe(0.28 * scale, LISINOPRIL):
        maybe(0.15 * scale, LOSARTAN)
    maybe(0.25 * scale, AMLODIPINE)
    loop = maybe(0.12 * scale + (0.4 if cirrhosis else 0), FUROSEMIDE)
    maybe(0.14 * scale, HCTZ)
    maybe(0.04 * scale + (0.6 if cirrhosis else 0), SPIRONOLACTONE)
    maybe(0.2 * scale, METFORMIN)
    if "E03.9" in p.conditions:
        maybe(0.9, LEVOTHYROXINE)
    maybe(0.2 * scale, OMEPRAZOLE)
    maybe(0.08 * scale, GABAPENTIN)
    maybe(0.02 * scale, TMP_SMX)
    maybe(0.06 * scale + (0.25 if cramps and adult else 0), MAGNESIUM_OXIDE,
          "leg cramps" if cramps and rng.random() < 0.6 else None)  # fmt: skip
    maybe(0.04 * scale, MILK_OF_MAGNESIA, "K59.00")
    maybe(0.03 * scale + (0.35 if loop else 0), KCL)
    maybe(0.08 * scale, rng.choice(BENZODIAZEPINES),
          rng.choice(["insomnia", "anxiety", "leg cramps" if cramps else "sleep", None]))  # fmt: skip
    maybe(0.04 * scale, CYCLOBENZAPRINE,
          "leg cramps" if cramps and rng.random() < 0.5 else "back spasm")  # fmt: skip
    maybe(0.01 * scale, METHOCARBAMOL, "back spasm")
    maybe((0.03 if adult else 0) + (0.2 if cirrhosis and cramps else 0), BACLOFEN,
          "R25.2" if cramps else None)  # fmt: skip
    if cramps and adult:
        maybe(0.02, QUININE, "R25.2")
    for code, display, chance in OTHER_DRUGS:
        if rng.random() < chance * scale:
            p.drugs.append(OrderShort(rxnorm=code, display=display.split(" ")[0], text=display))


def _lab(rng: random.Random, code: str, value: float, unit: str, low: float, high: float,
         ucum: str | None = None) -> LabShort:  # fmt: skip
    """A result as a lab sends it: a range most of the time, a flag some of the time."""
    value = round(value, 2 if value < 10 else 1 if value < 100 else 0)
    ranged = rng.random() < 0.7
    flag = None
    if rng.random() < 0.5:
        flag = "L" if value < low else "H" if value > high else "N"
    return LabShort(code=code, value=value, unit=unit, ucum=ucum or True,
                    ref_low=low if ranged else None, ref_high=high if ranged else None,
                    interpretation=flag, days_ago=rng.randint(1, 300))  # fmt: skip


def _labs(rng: random.Random, p: _Patient) -> None:
    names = " ".join(d.display or "" for d in p.drugs)
    us = rng.random() < 0.8
    if rng.random() < 0.8:
        code = rng.choice(["98979-8", "98979-8", "33914-3"])
        p.labs.append(LabShort(code=code, value=p.egfr, unit="mL/min/{1.73_m2}",
                               days_ago=rng.randint(1, 300)))  # fmt: skip
    if rng.random() < 0.75:
        k = rng.gauss(4.2, 0.4) - 0.35 * ("furosemide" in names or "hydrochlorothiazide" in names)
        k += 0.3 * ("lisinopril" in names or "losartan" in names) + 0.5 * (p.egfr < 30)
        meq = us and rng.random() < 0.3
        p.labs.append(_lab(rng, "2823-3", max(2.2, k), "mEq/L" if meq else "mmol/L", 3.5, 5.1,
                           "meq/L" if meq else None))  # fmt: skip
    if rng.random() < 0.4:
        mg = rng.gauss(2.0, 0.22) - 0.15 * ("omeprazole" in names or "furosemide" in names)
        mg += 0.5 * (p.egfr < 30 and "magnesium" in names)
        mg = max(0.9, mg)
        p.labs.append(_lab(rng, "19123-9", mg, "mg/dL", 1.6, 2.6) if us
                      else _lab(rng, "2601-3", mg * 0.41144, "mmol/L", 0.66, 1.07))  # fmt: skip
    if rng.random() < 0.6:
        ca = rng.gauss(9.4, 0.45)
        p.labs.append(_lab(rng, "17861-6", ca, "mg/dL", 8.6, 10.3) if us
                      else _lab(rng, "2000-8", ca * 0.2495, "mmol/L", 2.15, 2.55))  # fmt: skip
    if rng.random() < 0.15 + 0.2 * ("statin" in names):
        ck = rng.lognormvariate(4.7, 0.45 + 0.25 * ("statin" in names))
        p.labs.append(_lab(rng, "2157-6", ck, "U/L", 29 if p.female else 44,
                           143 if p.female else 196))  # fmt: skip
    if rng.random() < 0.35 + 0.4 * ("E03.9" in p.conditions):
        tsh = rng.lognormvariate(0.55 + 0.5 * ("E03.9" in p.conditions), 0.55)
        p.labs.append(_lab(rng, "3016-3", tsh, "mIU/L", 0.4, 4.5, "m[IU]/L"))


def generated_charts(count: int, seed: int, as_of: date) -> list[Chart]:
    rng = random.Random(seed)
    charts = []
    for n in range(1, count + 1):
        age = _age(rng)
        p = _Patient(age=age, female=rng.random() < 0.52, egfr=_egfr(rng, age))
        older, adult = age >= 65, age >= 18
        if older and rng.random() < 0.015:  # on dialysis: about 1 in 70 older adults
            p.egfr = float(rng.randint(5, 12))
        if rng.random() < (0.3 if older else 0.15 if adult else 0.1):
            p.conditions.append(rng.choice(CRAMP_CODES))
        if adult and rng.random() < 0.03:
            p.conditions.append("K74.60")
            if rng.random() < 0.2:
                p.conditions.append("K76.82")
        if adult and rng.random() < (0.12 if older else 0.05):
            p.conditions.append("E03.9")
        if older and rng.random() < 0.5:
            p.conditions.append("I10")
        if age >= 80 and rng.random() < 0.03:
            p.conditions.append("Z51.5")
        if p.female and 18 <= age <= 42 and rng.random() < 0.06:
            p.conditions += ["Z34.82", "Z3A.24"]
        _kidney_conditions(rng, p)
        _drugs(rng, p)
        _labs(rng, p)
        pid = f"gen-{n:05d}"
        resources = [shorthand.patient(PatientShort(id=pid, age=age,
                                                    gender="female" if p.female else "male"),
                                       as_of)]  # fmt: skip
        resources += [shorthand.lab(lab, pid, as_of, i) for i, lab in enumerate(p.labs, 1)]
        resources += [
            shorthand.condition(ConditionShort(code=code, system=system), pid, i)
            for i, (system, code) in enumerate(map(shorthand.coded, p.conditions), 1)
        ]
        resources += [
            shorthand.medication_request(d, pid, i, default_status="active")
            for i, d in enumerate(p.drugs, 1)
        ]
        charts.append(Chart(pid, False, pid, as_of, resources))
    return charts


# ---------------------------------------------------------------------------------------------
# Opening the charts


def words_before_data(detail: str) -> int:
    """Words of a card's detail before its "Data used for this patient" section (or its data
    notes or evidence grade, when it has no data section)."""
    found = DATA_SECTION.search(detail)
    body = detail[: found.start()] if found else detail
    return sum(1 for token in body.split() if WORD.search(token))


async def open_charts(charts: Sequence[Chart]) -> list[Opened]:
    engine = build_engine(pristine_settings())
    services = registry()
    service = services.for_hook("patient-view")
    out = []
    try:
        for chart in charts:
            body = build_request(chart.resources, [], chart.patient_id,
                                 RequestOptions(hook="patient-view"))  # fmt: skip
            report = CallReport()
            try:
                await answer_call(engine, services, orjson.dumps(body), service_id=service.id,
                                  policy=scenario_policy, today=chart.as_of, report=report)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - a chart the service refuses is reported
                out.append(Opened(chart, error=f"{type(exc).__name__}: {exc}"))
                continue
            cards = tuple(
                SeenCard(
                    indicator=r.card.indicator,
                    card_key=r.finding.card_key,
                    words=words_before_data(r.card.detail or ""),
                    order=r.finding.order.reference or r.finding.order.display
                    if r.finding.order
                    else None,
                )
                for r in report.cards
            )
            out.append(Opened(chart, cards))
    finally:
        await engine.fhir.aclose()
    return out


# ---------------------------------------------------------------------------------------------
# Summary


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, -(-int(share * 100) * len(ordered) // 100))
    return float(ordered[rank - 1])


def _cards(per_chart: Sequence[int]) -> dict[str, Any]:
    return {
        "charts": len(per_chart),
        "median": statistics.median(per_chart) if per_chart else 0,
        "p95": percentile(per_chart, 0.95),
        "max": max(per_chart, default=0),
        "mean": round(statistics.fmean(per_chart), 2) if per_chart else 0.0,
        "histogram": {str(k): v for k, v in sorted(Counter(min(n, 6) for n in per_chart)
                                                    .items())},  # fmt: skip
    }


def summarize(opened: Sequence[Opened]) -> dict[str, Any]:
    ok = [o for o in opened if o.error is None]
    per_chart = [len(o.cards) for o in ok]
    scoped = [len(o.cards) for o in ok if in_scope(o.chart.resources)]
    words = [c.words for o in ok for c in o.cards]
    doubled = sum(
        1 for o in ok if any(n > 1 for n in Counter(c.order for c in o.cards if c.order).values())
    )
    everyone, relevant = _cards(per_chart), _cards(scoped)
    max_words = max(words, default=0)
    return {
        "charts": len(opened),
        "real": sum(1 for o in opened if o.chart.real),
        "errors": [f"{o.chart.label}: {o.error}" for o in opened if o.error],
        "cards_per_chart": everyone,
        "cards_per_chart_in_scope": relevant,
        "cards_by_indicator": dict(Counter(c.indicator for o in ok for c in o.cards)),
        "cards_by_key": dict(Counter(c.card_key for o in ok for c in o.cards).most_common()),
        "charts_with_two_cards_for_one_drug": doubled,
        "words_before_data": {
            "cards": len(words),
            "median": statistics.median(words) if words else 0,
            "p95": percentile(words, 0.95),
            "max": max_words,
        },
        "targets": {
            f"median cards per chart open <= {TARGET_MEDIAN_CARDS} (all charts)":
                everyone["median"] <= TARGET_MEDIAN_CARDS,
            f"p95 cards per chart open <= {TARGET_P95_CARDS} (all charts)":
                everyone["p95"] <= TARGET_P95_CARDS,
            f"median cards per chart open <= {TARGET_MEDIAN_CARDS} (in-scope charts)":
                relevant["median"] <= TARGET_MEDIAN_CARDS,
            f"p95 cards per chart open <= {TARGET_P95_CARDS} (in-scope charts)":
                relevant["p95"] <= TARGET_P95_CARDS,
            f"every card <= {TARGET_WORDS} words before its data section":
                max_words <= TARGET_WORDS,
        },
        "real_patients": [
            {"patient": o.chart.label, "opened": o.chart.as_of.isoformat(),
             "cards": [f"{c.card_key} ({c.indicator}, {c.words} words)" for c in o.cards]}
            for o in opened if o.chart.real
        ],
    }  # fmt: skip


def print_summary(summary: dict[str, Any], seed: int, seconds: float) -> None:
    w = summary["words_before_data"]

    def cards(title: str, c: dict[str, Any]) -> list[str]:
        histogram = ", ".join(f"{'6+' if k == '6' else k}: {v}" for k, v in c["histogram"].items())
        return [
            f"Cards per chart open, {title} ({c['charts']}): median {c['median']:g}, "
            f"p95 {c['p95']:g}, max {c['max']}, mean {c['mean']}",
            f"  histogram (cards: charts): {histogram}",
        ]

    lines = [
        f"Alert budget, patient-view: {summary['charts']} charts ({summary['real']} real, "
        f"{summary['charts'] - summary['real']} generated with seed {seed}), "
        f"{seconds:.1f} s in-process",
        "",
        *cards("all charts", summary["cards_per_chart"]),
        *cards("in scope (cramps or a guideline drug)", summary["cards_per_chart_in_scope"]),
        "Cards by indicator: "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary["cards_by_indicator"].items())),
        "Cards by card: " + ", ".join(f"{k} {v}" for k, v in summary["cards_by_key"].items()),
        f"Charts where one drug got more than one card: "
        f"{summary['charts_with_two_cards_for_one_drug']}",
        f"Words per card detail before the data section ({w['cards']} cards): "
        f"median {w['median']:g}, p95 {w['p95']:g}, max {w['max']}",
        "",
        "Targets (issue 10):",
    ]
    lines += [f"  [{'met' if met else 'NOT MET'}] {name}" for name, met in
              summary["targets"].items()]  # fmt: skip
    lines += ["", "Real patients:"]
    lines += [f"  {r['patient']} ({r['opened']}): {', '.join(r['cards']) or 'no card'}"
              for r in summary["real_patients"]]  # fmt: skip
    lines += [f"  ERROR {e}" for e in summary["errors"]]
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000, help="generated patients")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 12, 1),
                        help="the day the generated charts are opened")  # fmt: skip
    parser.add_argument("--no-real", action="store_true", help="generated patients only")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    charts = [] if args.no_real else real_charts()
    charts += generated_charts(args.patients, args.seed, args.as_of)
    started = time.perf_counter()
    summary = summarize(asyncio.run(open_charts(charts)))
    seconds = time.perf_counter() - started
    if args.json:
        sys.stdout.write(json.dumps({**summary, "seed": args.seed, "seconds": round(seconds, 1)},
                                    indent=2) + "\n")  # fmt: skip
    else:
        print_summary(summary, args.seed, seconds)
    return 1 if args.strict and not all(summary["targets"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
