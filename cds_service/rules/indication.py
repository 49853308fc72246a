"""Is this order "for cramps"? One decision, used by every rule.

How it is decided, in this order:

1. The order states the drug's proper use, coded (reasonCode) or in its own words (reason
   text, note, dosage text; clinical/free_text.py) (quinine: malaria or babesiosis; quinidine:
   cardiac arrhythmia or malaria; cyclobenzaprine: low back pain or muscle spasm) -> NOT for
   cramps. A proper use wins over everything else, including "cramp" in the text.
2. The reasonCode is in the muscle_cramp group, or the order's words affirm cramps ("denies
   leg cramps" does not) -> for cramps (an explicit cramp reason).
3. The order has some other reason -> not for cramps. Any stated reason counts (coded, text or
   a reasonReference), even one the terminology does not know (e.g. spasticity).
4. The order has no reason at all: if the problem list has an active proper-use condition
   -> not for cramps; else if it has an active muscle_cramp condition -> for cramps.
5. Otherwise -> not for cramps.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.clinical.types import Medication, PatientFacts
from cds_service.rules.evidence import condition_evidence
from cds_service.rules.types import Evidence

CRAMP = "muscle_cramp"

# Plain names for the condition groups that can appear as a proper use.
GROUP_NAMES: dict[str, str] = {
    "malaria": "malaria",
    "babesiosis": "babesiosis",
    "cardiac_arrhythmia": "cardiac arrhythmia",
    "low_back_pain_or_spasm": "low back pain or muscle spasm",
    "muscle_cramp": "muscle cramp",
    "seizure_disorder": "seizure disorder",
    "pseudobulbar_affect": "pseudobulbar affect",
    "hypomagnesemia": "hypomagnesaemia",
    "hypokalemia": "hypokalaemia",
}

# Drug groups whose orders are judged "for cramps" with the problem-list rule (4.). Other
# orders count as "for cramps" only with an explicit cramp reason or text (2.).
CRAMP_DRUG_GROUPS: frozenset[str] = frozenset(
    {
        "quinine",
        "quinidine",
        "cyclobenzaprine",
        "other_muscle_relaxant",
        "baclofen_oral",
        "magnesium_supplement",
        "potassium_supplement",
        "benzodiazepine",
    }
)

PROPER_USE: dict[str, frozenset[str]] = {
    "quinine": frozenset({"malaria", "babesiosis"}),
    # IV quinidine gluconate was the US treatment of severe malaria until 2019 (§11.4).
    "quinidine": frozenset({"cardiac_arrhythmia", "malaria"}),
    "cyclobenzaprine": frozenset({"low_back_pain_or_spasm"}),
    "other_muscle_relaxant": frozenset({"low_back_pain_or_spasm"}),
    "magnesium_supplement": frozenset({"hypomagnesemia"}),
    "potassium_supplement": frozenset({"hypokalemia"}),
}


@dataclass(frozen=True, slots=True)
class Indication:
    for_cramps: bool
    basis: str  # how it was decided, in plain words (shown on the card)
    evidence: tuple[Evidence, ...]


def _names(groups: frozenset[str]) -> str:
    return ", ".join(sorted(GROUP_NAMES.get(g, g.replace("_", " ")) for g in groups))


def cramp_indication(
    order: Medication,
    facts: PatientFacts,
    proper_use: frozenset[str] = frozenset(),
    *,
    use_problem_list: bool = True,
) -> Indication:
    """Apply the module rule above to one order (step 4 only when `use_problem_list`)."""
    reasons = order.stated_groups
    proper = reasons & proper_use
    if proper:
        basis = f"order reason names a proper use ({_names(proper)})"
        return Indication(False, basis, (Evidence("Order reason", _names(proper)),))
    if CRAMP in order.reason_groups:
        return Indication(True, "order reason: muscle cramp", (Evidence("Order reason", "cramp"),))
    if order.mentions_cramp:
        text = "order text mentions cramp"
        return Indication(True, text, (Evidence("Order text", "mentions cramp"),))
    if reasons or order.has_reason:
        named = _names(reasons) if reasons else "not a cramp reason"
        basis = f"order reason is another condition ({named})"
        return Indication(False, basis, (Evidence("Order reason", named),))
    if not use_problem_list:
        return Indication(False, "no cramp reason on the order", ())
    for group in sorted(proper_use):
        conditions = facts.conditions_in(group)
        if conditions:
            basis = f"no reason on the order; problem list has {GROUP_NAMES.get(group, group)}"
            return Indication(False, basis, (condition_evidence(conditions[0]),))
    cramps = facts.conditions_in(CRAMP)
    if cramps:
        basis = "no reason on the order; problem list has muscle cramp"
        return Indication(True, basis, (condition_evidence(cramps[0]),))
    return Indication(False, "no cramp reason on the order or problem list", ())


def is_cramp_order(order: Medication, facts: PatientFacts) -> Indication:
    """For the work-up card: any order "for cramps". Nuedexta never counts (pseudobulbar affect)."""
    if "nuedexta" in order.groups:
        return Indication(False, "Nuedexta is prescribed for pseudobulbar affect", ())
    proper: frozenset[str] = frozenset()
    for group in order.groups:
        proper |= PROPER_USE.get(group, frozenset())
    return cramp_indication(
        order, facts, proper, use_problem_list=bool(order.groups & CRAMP_DRUG_GROUPS)
    )
