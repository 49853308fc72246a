"""Worked examples for docs/cards.md, rendered from the real rules and `cards/` content.

`test_docs.py` checks that every example block in docs/cards.md equals what this renders, so
the page cannot drift from the content. A block named `<card-key>--<variant>` shows another
wording of the same card. After editing `cards/`, refresh the page with:

    .venv/bin/python -m tests.cards.doc_examples --write
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable
from pathlib import Path

from cds_service.cards.catalog import CardCatalog
from cds_service.cards.render import render_cards
from cds_service.clinical.types import (
    Analyte,
    ConditionFact,
    Interpretation,
    LabValue,
    Medication,
    PatientFacts,
)
from cds_service.rules import evaluate
from cds_service.rules.types import RuleInput
from tests.rules.conftest import all_labs, cond, egfr, facts, inp, lab, med

DOC = Path(__file__).resolve().parents[2] / "docs" / "cards.md"
BLOCK = re.compile(r"<!-- example:(?P<key>[a-z0-9-]+) -->\n.*?<!-- /example -->", re.S)

CRAMP = cond("muscle_cramp", display="Nocturnal leg cramps")
CIRRHOSIS = cond("cirrhosis", display="Cirrhosis of liver")
DIALYSIS = cond("esrd_dialysis", display="End-stage renal disease on haemodialysis")
QUININE = "quinine sulfate 324 MG Oral Capsule"
MGO = "magnesium oxide 400 MG Oral Tablet"
KCL = "potassium chloride 20 MEQ Extended Release Oral Tablet"
BACLOFEN = "baclofen 10 MG Oral Tablet"
MG_PER_DL = 0.41144  # mg/dL -> mmol/L, as the clinical layer converts


def us_lab(
    analyte: Analyte,
    value: float,
    original: str,
    *,
    interpretation: Interpretation | None = None,
    reference_high: float | None = None,
) -> LabValue:
    """A result as a US lab reports it (`original`, e.g. "3.6 mg/dL"); `value` canonical."""
    return dataclasses.replace(
        lab(analyte, value, interpretation=interpretation),
        original=original,
        reference_high=reference_high,
    )


def _mg(*labs: LabValue, conditions: tuple[ConditionFact, ...] = ()) -> RuleInput:
    patient = facts(age=70, labs=labs, conditions=conditions)
    return inp("order-sign", patient, med("magnesium_supplement", display=MGO))


def _k(
    *labs: LabValue,
    conditions: tuple[ConditionFact, ...] = (),
    others: tuple[Medication, ...] = (),
) -> RuleInput:
    patient = facts(age=70, labs=labs, conditions=conditions, active=others)
    return inp("order-sign", patient, med("potassium_supplement", display=KCL))


def _baclofen(patient: PatientFacts, doses: tuple[float, ...] = (10, 20, 30)) -> RuleInput:
    order = med("baclofen_oral", display=BACLOFEN, doses=doses, reasons=("muscle_cramp",))
    return inp("order-select", patient, order)


SCENARIOS: dict[str, Callable[[], RuleInput]] = {
    "quinine-for-cramps": lambda: inp(
        "order-select",
        facts(age=58, labs=(egfr(72),), conditions=(CRAMP,)),
        med("quinine", display=QUININE),
    ),
    "quinine-for-cramps--no-indication": lambda: inp(
        "order-select", facts(age=78, labs=(egfr(70),)), med("quinine", display=QUININE)
    ),
    "quinine-for-cramps--cirrhosis": lambda: inp(
        "order-select",
        facts(age=56, labs=all_labs(egfr=75), conditions=(CRAMP, CIRRHOSIS)),
        med("quinine", display=QUININE),
    ),
    "quinidine-not-for-cramps": lambda: inp(
        "order-sign",
        facts(age=61, labs=(egfr(80),)),
        med("quinidine", display="quinidine sulfate 200 MG Oral Tablet", reasons=("muscle_cramp",)),
    ),
    "muscle-relaxant-older-adult": lambda: inp(
        "order-select",
        facts(age=78, labs=(egfr(72),), conditions=(CRAMP,)),
        med("cyclobenzaprine", display="cyclobenzaprine hydrochloride 10 MG Oral Tablet"),
    ),
    "cyclobenzaprine-for-cramps": lambda: inp(
        "order-select",
        facts(age=45, labs=(egfr(95),)),
        med("cyclobenzaprine", display="cyclobenzaprine 5 MG tab", mentions_cramp=True),
    ),
    "benzodiazepine-older-adult": lambda: inp(
        "order-select",
        facts(age=79, labs=(egfr(70),), conditions=(CRAMP,)),
        med("benzodiazepine", display="diazepam 5 MG Oral Tablet", mentions_cramp=True),
    ),
    "baclofen-safety": lambda: _baclofen(facts(age=58, labs=(egfr(24),))),
    "baclofen-safety--older-adult": lambda: _baclofen(facts(age=78, labs=(egfr(45),))),
    "baclofen-safety--dose": lambda: _baclofen(facts(age=50, labs=(egfr(90),)), (20, 40, 60)),
    "baclofen-safety--already-taking": lambda: inp(
        "patient-view",
        facts(
            age=64,
            labs=(egfr(60),),
            conditions=(
                CIRRHOSIS,
                cond("hepatic_encephalopathy", display="Hepatic encephalopathy"),
            ),
            active=(med("baclofen_oral", ref="MedicationRequest/b1", display=BACLOFEN),),
        ),
    ),
    "potassium-level-high": lambda: _k(
        egfr(38),
        lab("potassium", 5.8, interpretation="high"),
        others=(
            med(
                "ace_inhibitor", ref="MedicationRequest/a1", display="lisinopril 20 MG Oral Tablet"
            ),
            med(
                "potassium_sparing",
                ref="MedicationRequest/a2",
                display="spironolactone 25 MG Oral Tablet",
            ),
        ),
    ),
    "potassium-renal-critical": lambda: _k(lab("potassium", 4.6), conditions=(DIALYSIS,)),
    "potassium-renal-caution": lambda: _k(egfr(22), lab("potassium", 3.2)),
    "potassium-other-use-kidney": lambda: inp(
        "order-sign",
        facts(age=66, labs=(egfr(26), lab("potassium", 4.4))),
        med(
            "potassium_supplement",
            "potassium_citrate",
            display="potassium citrate 10 MEQ Extended Release Oral Tablet",
        ),
    ),
    "potassium-check-levels": lambda: _k(egfr(85)),
    "potassium-not-deficient": lambda: _k(egfr(85), lab("potassium", 4.2)),
    "potassium-repletion-info": lambda: _k(egfr(85), lab("potassium", 3.1)),
    "magnesium-level-high": lambda: _mg(
        egfr(41), us_lab("magnesium", 3.6 * MG_PER_DL, "3.6 mg/dL", interpretation="high")
    ),
    "magnesium-renal-critical": lambda: _mg(lab("magnesium", 0.9), conditions=(DIALYSIS,)),
    "magnesium-renal-critical--no-level": lambda: _mg(
        egfr(24, derived_from="Observation/creatinine-1")
    ),
    "magnesium-renal-caution": lambda: _mg(
        egfr(27), us_lab("magnesium", 1.5 * MG_PER_DL, "1.5 mg/dL")
    ),
    "magnesium-other-use-kidney": lambda: inp(
        "order-sign",
        facts(age=31, labs=(egfr(26), us_lab("magnesium", 2.1 * MG_PER_DL, "2.1 mg/dL"))),
        med(
            "magnesium_supplement",
            "magnesium_sulfate_parenteral",
            display="magnesium sulfate 40 MG/ML Injectable Solution",
            route="injection",
            text=("pre_eclampsia_eclampsia",),
        ),
    ),
    "magnesium-other-use-kidney--laxative": lambda: inp(
        "order-sign",
        facts(age=72, conditions=(DIALYSIS,)),
        med(
            "magnesium_supplement",
            "magnesium_laxative_antacid",
            display="magnesium hydroxide 400 MG/5ML Oral Suspension",
        ),
    ),
    "magnesium-check-levels": lambda: _mg(egfr(85), lab("potassium", 4.1)),
    "magnesium-not-deficient": lambda: _mg(egfr(85), lab("magnesium", 0.84)),
    "magnesium-repletion-info": lambda: _mg(egfr(85), lab("magnesium", 0.58)),
    "cramp-workup": lambda: inp(
        "patient-view",
        facts(
            age=63,
            labs=(lab("magnesium", 0.8), lab("potassium", 4.0)),
            conditions=(CRAMP,),
            active=(
                med("diuretic", ref="MedicationRequest/h1", display="hydrochlorothiazide 25 MG"),
            ),
        ),
    ),
    "cramp-secondary-cause": lambda: inp(
        "patient-view",
        facts(
            age=71,
            labs=all_labs(potassium=3.2),
            conditions=(CRAMP,),
            active=(
                med("diuretic", ref="MedicationRequest/h1", display="hydrochlorothiazide 25 MG"),
            ),
        ),
    ),
    "cramp-secondary-cause--statin": lambda: inp(
        "patient-view",
        facts(
            age=66,
            labs=all_labs(creatine_kinase=640),
            conditions=(CRAMP,),
            active=(
                med("statin", ref="MedicationRequest/s1", display="atorvastatin 80 MG Oral Tablet"),
            ),
        ),
    ),
    "cramp-secondary-cause-urgent": lambda: inp(
        "patient-view",
        facts(
            age=66,
            labs=(
                *(v for v in all_labs() if v.analyte != "creatine_kinase"),
                us_lab("creatine_kinase", 4200, "4200 U/L", reference_high=170),
            ),
            conditions=(CRAMP,),
            active=(
                med("statin", ref="MedicationRequest/s1", display="atorvastatin 80 MG Oral Tablet"),
            ),
        ),
    ),
    "cirrhosis-cramps": lambda: inp(
        "patient-view",
        facts(
            age=56,
            labs=all_labs(egfr=75),
            conditions=(CRAMP, CIRRHOSIS),
            active=(
                med(
                    "diuretic",
                    ref="MedicationRequest/s1",
                    display="spironolactone 100 MG Oral Tablet",
                ),
            ),
        ),
    ),
    "cirrhosis-cramps--not-advised": lambda: inp(
        "patient-view",
        facts(age=71, labs=all_labs(egfr=48), conditions=(CRAMP, CIRRHOSIS)),
    ),
    "cirrhosis-cramps-diuretic-order": lambda: inp(
        "order-select",
        facts(age=63, labs=(egfr(52),), conditions=(CRAMP, CIRRHOSIS)),
        med("diuretic", display="furosemide 40 MG Oral Tablet"),
    ),
}


def example(key: str, catalog: CardCatalog) -> str:
    """The Markdown block for one card: summary, detail (quoted) and suggestion labels."""
    rule_input = SCENARIOS[key]()
    rendered = render_cards(evaluate(rule_input), rule_input, catalog, max_cards=50)
    card_key = key.split("--")[0]
    card = next(r.card for r in rendered if r.finding.card_key == card_key)
    quoted = "\n".join(("> " + line).rstrip() for line in (card.detail or "").splitlines())
    labels = "; ".join(f"“{s.label}”" for s in card.suggestions or []) or "none"
    return (
        f"<!-- example:{key} -->\n"
        f"*Example ({rule_input.hook}, indicator **{card.indicator}**):*\n\n"
        f"**Summary:** {card.summary}\n\n{quoted}\n\n"
        f"**Suggestions offered:** {labels}\n"
        f"<!-- /example -->"
    )


def refresh(text: str, catalog: CardCatalog) -> str:
    return BLOCK.sub(lambda m: example(m.group("key"), catalog), text)


if __name__ == "__main__":
    page = DOC.read_text(encoding="utf-8")
    updated = refresh(page, CardCatalog.load())
    if "--write" in sys.argv:
        DOC.write_text(updated, encoding="utf-8")
    else:
        sys.stdout.write(updated)
