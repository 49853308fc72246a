"""Drug groups: RxNorm, ATC and whole-word name matching, routes, combinations, strengths."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.terminology import Terminology
from tests.clinical.conftest import ATC, RXNORM, SNOMED

# (codings, text, dosage route, expected groups, expected matched_by)
DRUG_CASES = [
    ([(RXNORM, "828348", None)], None, None, {"cyclobenzaprine"}, "rxnorm:828348"),
    ([(RXNORM, "21949", None)], None, None, {"cyclobenzaprine"}, "rxnorm:21949"),  # IN
    ([(RXNORM, "705009", None)], None, None, {"cyclobenzaprine"}, "rxnorm:705009"),  # BN Fexmid
    ([], "Cyclobenzaprine Tablet 10mg", None, {"cyclobenzaprine"}, "text:cyclobenzaprine"),
    ([], "FLEXERIL 10 mg", None, {"cyclobenzaprine"}, "text:Flexeril"),
    ([(RXNORM, "997010", None)], None, None, {"quinine"}, "rxnorm:997010"),
    ([(RXNORM, "647128", None)], None, None, {"quinine"}, "rxnorm:647128"),  # BN Qualaquin
    ([], "quinine sulfate 324 mg capsule", None, {"quinine"}, "text:quinine sulfate"),
    ([(ATC, "P01BC01", None)], None, None, {"quinine"}, "atc:P01BC01"),
    ([(ATC, "M09AA01", None)], None, None, {"quinine"}, "atc:M09AA01"),  # M09AA group prefix
    ([(RXNORM, "852877", None)], None, None, {"quinidine"}, "rxnorm:852877"),
    ([], "Quinidine gluconate ER 324 mg", None, {"quinidine"}, "text:quinidine gluconate"),
    ([(RXNORM, "1040054", None)], None, None, {"nuedexta"}, "rxnorm:1040054"),
    ([(RXNORM, "1040058", None)], None, None, {"nuedexta"}, "rxnorm:1040058"),
    ([(RXNORM, "1040055", None)], None, None, {"nuedexta"}, "rxnorm:1040055"),
    ([], "Nuedexta 20-10 mg", None, {"nuedexta"}, "text:Nuedexta"),
    (
        [],
        "dextromethorphan hydrobromide 20 MG / quinidine sulfate 10 MG Oral Capsule",
        None,
        {"nuedexta"},
        "text:dextromethorphan quinidine",
    ),
    ([(RXNORM, "197391", None)], None, None, {"baclofen_oral"}, "rxnorm:197391"),
    ([(RXNORM, "250976", None)], None, None, {"baclofen_oral"}, "rxnorm:250976"),  # solution
    ([(RXNORM, "1666620", None)], None, None, {"baclofen_intrathecal"}, "rxnorm:1666620"),
    ([(RXNORM, "1292", None)], None, None, {"baclofen_oral"}, "rxnorm:1292"),
    ([(RXNORM, "1292", None)], None, "intrathecal", {"baclofen_intrathecal"}, "rxnorm:1292"),
    ([], "Gablofen 2000 mcg/mL", None, {"baclofen_intrathecal"}, "text:Gablofen"),
    ([], "baclofen 10 mg tablet", "oral", {"baclofen_oral"}, "text:baclofen"),
    ([(ATC, "M03BX01", None)], None, None, {"baclofen_oral"}, "atc:M03BX01"),
    ([(RXNORM, "198741", None)], None, None, {"magnesium_supplement"}, "rxnorm:198741"),
    ([(RXNORM, "723739", None)], None, None, {"magnesium_supplement"}, "rxnorm:723739"),
    ([(RXNORM, "6582", None)], None, None, {"magnesium_supplement"}, "rxnorm:6582"),  # IN MgO
    ([(RXNORM, "93204", None)], None, None, {"magnesium_supplement"}, "rxnorm:93204"),  # Mag-Ox
    ([(ATC, "A12CC10", None)], None, None, {"magnesium_supplement"}, "atc:A12CC10"),
    ([(ATC, "A12CC99", None)], None, None, {"magnesium_supplement"}, "atc:A12CC99"),  # prefix
    # Suprep bowel prep kit and Gaviscon: magnesium load, and a laxative / an antacid.
    (
        [(RXNORM, "2390767", None)],
        None,
        None,
        {"magnesium_containing", "magnesium_laxative_antacid"},
        "rxnorm:2390767",
    ),
    (
        [(RXNORM, "25655", None)],
        None,
        None,
        {"magnesium_containing", "magnesium_laxative_antacid"},
        "rxnorm:25655",
    ),
    ([], "Magnesium Oxide 400 MG Oral Tablet", None, {"magnesium_supplement"}, None),
    (
        [],
        "Milk of Magnesia 400 mg/5 mL",
        None,
        {"magnesium_supplement", "magnesium_laxative_antacid"},
        None,
    ),
    ([], "Maalox Plus suspension", None, {"magnesium_containing", "magnesium_laxative_antacid"}, None),
    (
        [],
        "calcium carbonate / magnesium hydroxide chewable",
        None,
        {"magnesium_containing", "magnesium_laxative_antacid"},
        None,
    ),
    ([], "Magnesium sulfate 2 g in dextrose 5%", None, {"magnesium_containing"}, None),
    (
        [],
        "magnesium sulfate 500 MG/ML Injection",
        None,
        {"magnesium_supplement", "magnesium_sulfate_parenteral"},
        None,
    ),
    (
        [],
        "magnesium oxide/potassium chloride",
        None,
        {"magnesium_containing", "potassium_containing"},
        None,
    ),  # noqa: E501
    ([], "esomeprazole magnesium 40 mg", None, set(), None),
    ([(RXNORM, "628953", None)], None, None, {"potassium_supplement"}, "rxnorm:628953"),
    (
        [(RXNORM, "2205512", None)],  # potassium phosphates injection: K salts only
        None,
        None,
        {"potassium_supplement", "potassium_phosphate"},
        None,
    ),
    ([(RXNORM, "8588", None)], None, None, {"potassium_supplement"}, "rxnorm:8588"),
    (
        [(RXNORM, "800808", None)],
        None,
        None,
        {"magnesium_containing", "potassium_containing"},
        None,
    ),  # noqa: E501
    ([(ATC, "A12BA51", None)], None, None, {"potassium_containing"}, "atc:A12BA51"),
    ([(ATC, "A12BA01", None)], None, None, {"potassium_supplement"}, "atc:A12BA01"),
    ([], "Klor-Con M20 tablet", None, {"potassium_supplement"}, "text:Klor-Con"),
    (
        [],
        "K-Phos Neutral tablet",
        None,
        {"potassium_containing", "potassium_phosphate"},
        "text:K-Phos Neutral",
    ),
    ([], "Potassium chloride 20 mEq in sodium chloride 0.9%", None, {"potassium_containing"}, None),
    # An ARB, never a potassium supplement (the whole name "losartan potassium" wins).
    ([], "losartan potassium 50 mg", None, {"angiotensin_receptor_blocker"}, None),
    ([], "amoxicillin / clavulanate potassium", None, set(), None),
    ([(RXNORM, "197322", None)], None, None, {"benzodiazepine"}, "rxnorm:197322"),
    (
        [(RXNORM, "801958", None)],
        None,
        None,
        {"benzodiazepine", "benzodiazepine_nonoral_seizure_route"},
        None,
    ),  # noqa: E501
    (
        [(RXNORM, "2173500", None)],
        None,
        None,
        {"benzodiazepine", "benzodiazepine_nonoral_seizure_route"},
        None,
    ),  # noqa: E501
    (
        [(RXNORM, "2682573", None)],
        None,
        None,
        {"benzodiazepine", "benzodiazepine_nonoral_seizure_route"},
        None,
    ),  # noqa: E501
    (
        [],
        "Diastat AcuDial 10 mg",
        None,
        {"benzodiazepine", "benzodiazepine_nonoral_seizure_route"},
        None,
    ),  # noqa: E501
    (
        [],
        "Valtoco 15 mg nasal",
        None,
        {"benzodiazepine", "benzodiazepine_nonoral_seizure_route"},
        None,
    ),  # noqa: E501
    (
        [],
        "diazepam 10 mg",
        "rectal",
        {"benzodiazepine", "benzodiazepine_nonoral_seizure_route"},
        None,
    ),  # noqa: E501
    ([], "diazepam 5 mg tablet", "oral", {"benzodiazepine"}, "text:diazepam"),
    ([(ATC, "N05BA12", None)], None, None, {"benzodiazepine"}, "atc:N05BA12"),  # alprazolam
    ([], "Xanax 0.5mg", None, {"benzodiazepine"}, "text:Xanax"),
    ([(RXNORM, "310429", None)], None, None, {"diuretic"}, "rxnorm:310429"),
    ([], "Lasix 40mg", None, {"diuretic"}, "text:Lasix"),
    ([], "HCTZ 25 mg", None, {"diuretic"}, "text:HCTZ"),
    ([(RXNORM, "197943", None)], None, None, {"other_muscle_relaxant"}, "rxnorm:197943"),
    ([], "Soma 350", None, {"other_muscle_relaxant"}, "text:Soma"),
    ([(RXNORM, "582620", "Nizatidine 15 MG/ML Oral Solution [Axid]")], None, None, set(), None),
    ([(RXNORM, "57258", None)], None, None, set(), None),  # tizanidine: not in any group
    ([(SNOMED, "373497008", None)], "something", None, set(), None),
]


@pytest.mark.parametrize(("codings", "text", "route", "groups", "matched_by"), DRUG_CASES)
def test_drug_groups(
    terminology: Terminology,
    codings: list[Any],
    text: str | None,
    route: str | None,
    groups: set[str],
    matched_by: str | None,
) -> None:
    match = terminology.medication_groups(codings, text, dosage_route=route)
    assert match.groups == groups
    if matched_by is not None:
        assert match.matched_by == matched_by
    if not groups:
        assert match.matched_by is None


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("quinidine sulfate 200 mg", "quinine"),
        ("quinine sulfate 324 mg", "quinidine"),
        ("Nuedexta", "quinidine"),
        ("esomeprazole magnesium", "magnesium_supplement"),
        ("TPN Electrolytes SODIUM CHLORIDE, MAGNESIUM CHLORIDE", "magnesium_supplement"),
    ],
)
def test_name_match_is_whole_word_and_never_promotes_combinations(
    terminology: Terminology, text: str, forbidden: str
) -> None:
    assert forbidden not in terminology.medication_groups([], text).groups


def test_codes_win_over_text(terminology: Terminology) -> None:
    # A known RxNorm code decides even when the display would name another group.
    match = terminology.medication_groups([(RXNORM, "828348", "quinine 324 mg")], "quinine")
    assert match.groups == {"cyclobenzaprine"}


def test_product_route_wins_over_the_dosage_route(terminology: Terminology) -> None:
    match = terminology.medication_groups([(RXNORM, "1666620", None)], dosage_route="oral")
    assert match.groups == {"baclofen_intrathecal"}
    assert match.route == "intrathecal"
    assert terminology.medication_groups([(RXNORM, "2723106", None)]).route == "oral-mucosal"


def test_combination_context_turns_supplements_into_containing(terminology: Terminology) -> None:
    match = terminology.medication_groups([(RXNORM, "6579", None)], combination=True)
    assert match.groups == {"magnesium_containing"}


def test_zero_width_characters_do_not_break_name_matching(terminology: Terminology) -> None:
    assert terminology.medication_groups([], "Cyclo\u200bbenzaprine 10 mg").groups == {
        "cyclobenzaprine"
    }


@pytest.mark.parametrize(
    ("code", "display", "mg", "per"),
    [
        ("197391", None, 10.0, "unit"),  # baclofen 10 MG Oral Tablet
        ("250976", None, 1.0, "mL"),  # baclofen 1 MG/ML Oral Solution
        ("308516", None, 0.05, "mL"),  # 1 ML baclofen 0.05 MG/ML Injection
        ("828358", None, 15.0, "unit"),  # 24 HR ... 15 MG Extended Release Oral Capsule
        (None, "Cyclobenzaprine Tablet 10mg", 10.0, "unit"),
        (None, "Nizatidine 15 MG/ML Oral Solution [Axid]", 15.0, "mL"),
        (None, "magnesium hydroxide 400 MG/5 ML suspension", 80.0, "mL"),
        (None, "Alvesco 80mcg/puff", 0.08, "unit"),
    ],
)
def test_product_strength(
    terminology: Terminology, code: str | None, display: str | None, mg: float, per: str
) -> None:
    strength = terminology.strength(code, display)
    assert strength is not None
    assert strength.mg == pytest.approx(mg)
    assert strength.per == per


@pytest.mark.parametrize(
    "display",
    [
        "dextromethorphan hydrobromide 20 MG / quinidine sulfate 10 MG Oral Capsule",
        "potassium chloride 20 MEQ Extended Release Oral Tablet",
        "Vitamin D3 Capsule 4000 iu",
        "Nasonex Nasal Inhaler",
        None,
    ],
)
def test_no_strength_when_it_is_not_one_mg_amount(
    terminology: Terminology, display: str | None
) -> None:
    assert terminology.strength(None, display) is None


def test_the_slash_pattern_starts_only_where_a_word_starts(terminology: Terminology) -> None:
    """Tried from every position inside a long word, it backtracked quadratically (found by
    fuzzing: 16,000 letters after a drug name took 2.5 s)."""
    from cds_service.clinical.terminology import _SLASH

    assert [m.groups() for m in _SLASH.finditer("a/b/c")] == [("a", "b")]
    long_word = "quinine " + "a" * 20_000
    assert all(m.start() in (0, 8) for m in _SLASH.finditer(long_word + "/x"))
    assert "quinine" in terminology.medication_groups([], long_word).groups
    text = "x" * 20_000 + " calcium carbonate / magnesium hydroxide chewable"
    combo = terminology.medication_groups([], text)
    assert combo.groups == {"magnesium_containing", "magnesium_laxative_antacid"}
