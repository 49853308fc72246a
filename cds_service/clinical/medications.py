"""MedicationRequest (R4, STU3) and MedicationOrder (DSTU2) -> Medication.

The drug is `medicationCodeableConcept`, or `medicationReference` resolved as a contained
"#id" Medication, else through `medication_index` ("Medication/abc" -> Medication, built by the
FHIR layer from prefetched or fetched resources), else only the reference's display text. A
Medication with several ingredients (medrx0323's TPN) is matched ingredient by ingredient and
supplement groups become *_containing: a TPN with magnesium chloride is not a Mg supplement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from cds_service.clinical.dosing import daily_dose_mg
from cds_service.clinical.fhirjson import (
    Coding,
    clean,
    codings,
    dicts,
    parse_date,
    read_concept,
    reference_key,
    visible,
)
from cds_service.clinical.strength import Strength
from cds_service.clinical.terminology import RXNORM_SYSTEMS, MedMatch, Terminology
from cds_service.clinical.text import route_from_text
from cds_service.clinical.types import Medication

ORDER_TYPES = frozenset({"MedicationRequest", "MedicationOrder"})
_CRAMP = re.compile(r"\bcramp", re.IGNORECASE)
CRAMP_GROUP = "muscle_cramp"
UNNAMED = "Unnamed medication"
_HISTORY = re.compile(r"/_history/.*$")


class _Part(NamedTuple):  # a NamedTuple: cheaper to build than a frozen dataclass
    """One coded concept of the drug: the product, or one ingredient of it."""

    codings: list[Coding]
    text: str | None


def read_medication(
    order: dict[str, Any],
    *,
    terminology: Terminology,
    medication_index: Mapping[str, dict[str, Any]],
    selected: bool = False,
) -> Medication | None:
    """A Medication for a MedicationRequest/MedicationOrder dict; None for other resources, and
    for an order that names no drug at all (the sandbox's Rx form before a drug is picked: an
    order without a medication is not an order)."""
    rtype = order.get("resourceType")
    if not isinstance(rtype, str) or rtype not in ORDER_TYPES:
        return None
    parts, display = _drug(order, medication_index)
    if display == UNNAMED and not any(p.codings for p in parts):
        return None
    dosages = list(dicts(order.get("dosageInstruction")))
    if len(dosages) > 1:
        dosages.sort(key=_sequence)
    dosage_route = _dosage_route(dosages)
    combination = len(parts) > 1
    matches = [
        terminology.medication_groups(
            p.codings, p.text, dosage_route=dosage_route, combination=combination
        )
        for p in parts
    ]
    # List comprehensions rather than generator expressions here: cheaper for a few items.
    rxnorm = tuple(
        dict.fromkeys([c for p in parts for s, c, _d in p.codings if c and s in RXNORM_SYSTEMS])
    )
    strength = _strength(parts, terminology) if not combination else None
    # reasonCode: R4/STU3 (an object, as the sandbox sends, is read as a one-item array);
    # reasonCodeableConcept: DSTU2 MedicationOrder.
    reasons = [*dicts(order.get("reasonCode")), *dicts(order.get("reasonCodeableConcept"))]
    reason_codings = [codings(r) for r in reasons]
    stated = terminology.free_text.groups(_free_texts(reasons, reason_codings, dosages, order))
    return Medication(
        reference=reference_key(order),
        resource_type=rtype,
        status=clean(order.get("status")),
        display=display,
        groups=frozenset().union(*[m.groups for m in matches]),
        matched_by=_matched_by(matches),
        rxnorm=rxnorm,
        route=_first_route(matches) or dosage_route,
        daily_doses_mg=tuple(
            [dose for d in dosages if (dose := daily_dose_mg(d, strength)) is not None]
        ),
        reason_groups=frozenset().union(
            *[terminology.condition_groups(found) for found in reason_codings]
        ),
        has_reason=_has_reason(reasons, reason_codings, order),
        text_groups=stated,
        mentions_cramp=CRAMP_GROUP in stated or _names_cramp(display, parts),
        selected=selected,
        authored=parse_date(order.get("authoredOn")) or parse_date(order.get("dateWritten")),
    )


def _has_reason(
    reasons: list[dict[str, Any]], reason_codings: list[list[Coding]], order: dict[str, Any]
) -> bool:
    """Any reason with content: a coding or text (reasonCode, R4/STU3 array or lone object;
    DSTU2 reasonCodeableConcept), or a reasonReference (array or lone object, DSTU2 too)."""
    for reason, found in zip(reasons, reason_codings, strict=True):
        if clean(reason.get("text")) or any(code or shown for _s, code, shown in found):
            return True
    return any(
        clean(ref.get("reference")) or clean(ref.get("display")) or ref.get("identifier")
        for ref in dicts(order.get("reasonReference"))
    )


def read_medications(
    resources: Iterable[object],
    *,
    terminology: Terminology,
    medication_index: Mapping[str, dict[str, Any]],
) -> tuple[Medication, ...]:
    """Medications for every order among `resources`; other types and junk are skipped."""
    out: list[Medication] = []
    for item in resources:
        if isinstance(item, dict):
            med = read_medication(item, terminology=terminology, medication_index=medication_index)
            if med is not None:
                out.append(med)
    return tuple(out)


def _drug(order: dict[str, Any], index: Mapping[str, dict[str, Any]]) -> tuple[list[_Part], str]:
    """The drug's coded parts and its display name."""
    concept = order.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        found, text = read_concept(concept)
        return [_Part(found, text)], _display(text)
    holder = order.get("medicationReference")
    if not isinstance(holder, dict):
        return [], _display(None)
    shown = clean(holder.get("display"))
    medication = _resolve(order, holder.get("reference"), index)
    if medication is None:
        return [_Part([], shown)], _display(shown)
    code = medication.get("code")
    parts = [_Part(*read_concept(code))] if isinstance(code, dict) else []
    ingredients = [_ingredient(i) for i in dicts(medication.get("ingredient"))]
    ingredients = [i for i in ingredients if i.codings or i.text]
    if len(ingredients) > 1 or not parts:
        parts.extend(ingredients)
    names = [p.text for p in parts if p.text]
    return parts or [_Part([], shown)], _display(shown or " + ".join(names)[:300] or None)


def _resolve(order: dict[str, Any], reference: object, index: Mapping[str, dict[str, Any]]
             ) -> dict[str, Any] | None:  # fmt: skip
    if not isinstance(reference, str) or not reference.strip():
        return None
    ref = reference.strip()
    if ref.startswith("#"):
        for contained in dicts(order.get("contained")):
            if contained.get("id") == ref[1:] and contained.get("resourceType") == "Medication":
                return contained
        return None
    ref = _HISTORY.sub("", ref)
    found = index.get(ref)
    if found is None and "Medication/" in ref:
        found = index.get("Medication/" + ref.rsplit("Medication/", 1)[1])
    return found if isinstance(found, dict) else None


def _ingredient(ingredient: dict[str, Any]) -> _Part:
    """R4 itemCodeableConcept (R5: item.concept); a Reference item gives only its display."""
    concept = ingredient.get("itemCodeableConcept")
    item = ingredient.get("item")
    if not isinstance(concept, dict) and isinstance(item, dict):
        concept = item.get("concept") if isinstance(item.get("concept"), dict) else None
        if concept is None:
            return _Part([], clean(item.get("display")))
    return _Part(*read_concept(concept))


def _display(text: str | None) -> str:
    return text or UNNAMED


def _sequence(dosage: dict[str, Any]) -> float:
    sequence = dosage.get("sequence")
    return float(sequence) if isinstance(sequence, int) and not isinstance(sequence, bool) else 0.0


def _route(dosage: dict[str, Any]) -> str | None:
    """The route named by Dosage.route: its text, else each coding's display in turn."""
    concept = dosage.get("route")
    if not isinstance(concept, dict):
        return None
    displays = [clean(coding.get("display")) for coding in dicts(concept.get("coding"))]
    for text in (clean(concept.get("text")), *displays):
        route = route_from_text(text)
        if route:
            return route
    return None


# Plain loops rather than next(generator): a generator left suspended costs more to close.
def _dosage_route(dosages: list[dict[str, Any]]) -> str | None:
    for dosage in dosages:
        route = _route(dosage)
        if route:
            return route
    return None


def _matched_by(matches: list[MedMatch]) -> str | None:
    for match in matches:
        if match.matched_by:
            return match.matched_by
    return None


def _first_route(matches: list[MedMatch]) -> str | None:
    for match in matches:
        if match.route:
            return match.route
    return None


def _strength(parts: list[_Part], terminology: Terminology) -> Strength | None:
    for part in parts:
        for system, code, display in part.codings:
            if system in RXNORM_SYSTEMS:
                found = terminology.strength(code, display)
                if found:
                    return found
        found = terminology.strength(None, part.text)
        if found:
            return found
    return None


def _free_texts(reasons: list[dict[str, Any]], reason_codings: list[list[Coding]],
                dosages: list[dict[str, Any]], order: dict[str, Any]) -> list[object]:  # fmt: skip
    """The order's own words: reason texts and displays, dosage texts, notes."""
    texts: list[object] = [order.get("note")]  # DSTU2: the note is a plain string
    for reason, found in zip(reasons, reason_codings, strict=True):
        texts.append(reason.get("text"))
        for _system, _code, shown in found:
            texts.append(shown)
    for dosage in dosages:
        texts.append(dosage.get("text"))
        texts.append(dosage.get("patientInstruction"))
    for note in dicts(order.get("note")):
        texts.append(note.get("text"))
    return texts


def _names_cramp(display: str, parts: list[_Part]) -> bool:
    """A product name that states cramps ("[Phillips' Cramp-free]"). The substring test first
    spares the case-insensitive regex (slow: no literal prefix) most of the time."""
    joined = visible("\n".join([display, *[p.text for p in parts if p.text]]))
    return "cramp" in joined.lower() and _CRAMP.search(joined) is not None
