"""Worked examples for docs/cards.md, rendered from the real rules and `cards/` content.

`test_docs.py` checks that every example block in docs/cards.md equals what this renders, so
the page cannot drift from the content. A block named `<card-key>--<variant>` shows another
wording of the same card. After editing `cards/`, refresh the page with:

    .venv/bin/python -m tests.cards.doc_examples --write
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from cds_service.cards.catalog import CardCatalog
from cds_service.cards.render import render_cards
from cds_service.rules import evaluate
from cds_service.rules.types import RuleInput
from tests.rules.conftest import cond, egfr, facts, inp, lab, med

DOC = Path(__file__).resolve().parents[2] / "docs" / "cards.md"
BLOCK = re.compile(r"<!-- example:(?P<key>[a-z0-9-]+) -->\n.*?<!-- /example -->", re.S)

CRAMP = cond("muscle_cramp", display="Nocturnal leg cramps")
CIRRHOSIS = cond("cirrhosis", display="Cirrhosis of liver")
QUININE = "quinine sulfate 324 MG Oral Capsule"
MGO = "magnesium oxide 400 MG Oral Tablet"
KCL = "potassium chloride 20 MEQ Extended Release Oral Tablet"


def _mg(*labs, age=70):
    return inp("order-sign", facts(age=age, labs=labs), med("magnesium_supplement", display=MGO))


def _k(*labs, age=70):
    return inp("order-sign", facts(age=age, labs=labs), med("potassium_supplement", display=KCL))


SCENARIOS: dict[str, Callable[[], RuleInput]] = {
    "quinine-for-cramps": lambda: inp(
        "order-select",
        facts(age=58, labs=(egfr(72),), conditions=(CRAMP,)),
        med("quinine", display=QUININE),
    ),
    "quinine-for-cramps--no-indication": lambda: inp(
        "order-select", facts(age=78, labs=(egfr(70),)), med("quinine", display=QUININE)
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
    "magnesium-renal-severe": lambda: _mg(
        egfr(24, derived_from="Observation/creatinine-1"), lab("magnesium", 0.62)
    ),
    "magnesium-renal-moderate": lambda: _mg(egfr(48), lab("magnesium", 0.82)),
    "magnesium-check-levels": lambda: _mg(egfr(85), lab("potassium", 4.1)),
    "magnesium-not-deficient": lambda: _mg(egfr(85), lab("magnesium", 0.84)),
    "magnesium-repletion-info": lambda: _mg(egfr(85), lab("magnesium", 0.58)),
    "potassium-renal-severe": lambda: _k(egfr(22), lab("potassium", 4.6)),
    "potassium-renal-moderate": lambda: _k(egfr(41), lab("potassium", 4.4)),
    "potassium-check-levels": lambda: _k(egfr(85)),
    "potassium-not-deficient": lambda: _k(egfr(85), lab("potassium", 4.2)),
    "potassium-repletion-info": lambda: _k(egfr(85), lab("potassium", 3.1)),
    "baclofen-option-cirrhosis": lambda: inp(
        "patient-view", facts(age=56, labs=(egfr(75),), conditions=(CRAMP, CIRRHOSIS))
    ),
    "baclofen-option-idiopathic": lambda: inp(
        "patient-view", facts(age=52, labs=(egfr(95),), conditions=(CRAMP,))
    ),
    "baclofen-caution": lambda: inp(
        "patient-view", facts(age=74, labs=(egfr(41),), conditions=(CRAMP,))
    ),
    "baclofen-dose-high": lambda: inp(
        "order-select",
        facts(age=50, labs=(egfr(90),)),
        med(
            "baclofen_oral",
            display="baclofen 20 MG Oral Tablet",
            doses=(20, 40, 60),
            reasons=("muscle_cramp",),
        ),
    ),
    "baclofen-older-adult-kidney": lambda: inp(
        "order-sign",
        facts(age=81, labs=(egfr(38),)),
        med("baclofen_oral", display="baclofen 10 MG Oral Tablet", doses=(10, 20, 30)),
    ),
    "benzodiazepine-older-adult": lambda: inp(
        "order-select",
        facts(age=79, labs=(egfr(70),), conditions=(CRAMP,)),
        med("benzodiazepine", display="diazepam 5 MG Oral Tablet", mentions_cramp=True),
    ),
    "cirrhosis-cramps-diuretics": lambda: inp(
        "patient-view",
        facts(
            age=63,
            labs=(egfr(52),),
            conditions=(CRAMP, CIRRHOSIS),
            active=(
                med("diuretic", ref="MedicationRequest/f1", display="furosemide 40 MG Oral Tablet"),
                med(
                    "diuretic",
                    ref="MedicationRequest/s1",
                    display="spironolactone 100 MG Oral Tablet",
                ),
            ),
        ),
    ),
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
