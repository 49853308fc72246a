"""Terminology: the data files load, validate, and answer the group questions the rules ask."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from typing import Any

import pytest
import yaml

from cds_service.clinical.terminology import Terminology, TerminologyError, get_terminology
from tests.clinical.conftest import ATC, ICD10CM, LOINC, RXNORM, SNOMED

DRUG_GROUPS = {
    "cyclobenzaprine",
    "quinine",
    "quinidine",
    "nuedexta",
    "baclofen_oral",
    "baclofen_intrathecal",
    "magnesium_supplement",
    "magnesium_containing",
    "potassium_supplement",
    "potassium_containing",
    "benzodiazepine",
    "benzodiazepine_nonoral_seizure_route",
    "diuretic",
    "other_muscle_relaxant",
}
CONDITION_GROUPS = {
    "muscle_cramp",
    "ckd",
    "ckd_g4_g5",
    "esrd_dialysis",
    "cirrhosis",
    "hepatic_encephalopathy",
    "hypomagnesemia",
    "hypokalemia",
    "hypocalcemia",
    "seizure_disorder",
    "benzodiazepine_beers_exception",
    "malaria",
    "babesiosis",
    "cardiac_arrhythmia",
    "pseudobulbar_affect",
    "22q11_2_deletion",
    "hypothyroidism",
    "radiculopathy",
    "low_back_pain_or_spasm",
    "juvenile_idiopathic_arthritis",
}


def _data() -> tuple[dict[str, Any], dict[str, Any]]:
    base = resources.files("cds_service.clinical") / "data"
    codes = json.loads((base / "codes.json").read_text(encoding="utf-8"))
    groups = yaml.safe_load((base / "groups.yaml").read_text(encoding="utf-8"))
    return codes, groups


# -- loading and validation ------------------------------------------------------------------


def test_loads_once_and_exposes_every_group_the_rules_use(terminology: Terminology) -> None:
    assert get_terminology() is get_terminology()
    assert set(terminology.drug_group_ids) == DRUG_GROUPS
    assert set(terminology.condition_group_ids) == CONDITION_GROUPS


def test_codes_json_is_the_verified_knowledge_base_unchanged() -> None:
    base = resources.files("cds_service.clinical") / "data"
    digest = hashlib.sha256((base / "codes.json").read_bytes()).hexdigest()
    readme = (base / "README.md").read_text(encoding="utf-8")
    assert digest in readme, "README.md must record the hash of the copied codes.json"
    assert "2026-11-25" in readme


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c, g: g["condition_groups"]["ckd_g4_g5"][0]["codes"].append("N18.99"), "N18.99"),
        (lambda c, g: g["condition_groups"]["malaria"][0].update(codes=[]), "selects no code"),
        (lambda c, g: g["condition_groups"]["ckd"][0].update(codes=[431857002]), "not a string"),
        (lambda c, g: g["drug_groups"]["quinine"].update(atc=["Z99ZZ99"]), "Z99ZZ99"),
        (lambda c, g: g["drug_groups"]["quinine"].update(colour="blue"), "unknown keys"),
        (lambda c, g: g["drug_groups"]["quinine"].update({"from": "aspirin"}), "aspirin"),
        (lambda c, g: g["drug_groups"]["nuedexta"]["products"].update(codes=["1"]), "['1']"),
        (lambda c, g: g["analytes"]["potassium"].update(exclude=["2160-0"]), "2160-0"),
        (lambda c, g: g["analytes"].update(albumin={"from": "calcium"}), "not an Analyte"),
        (lambda c, g: c["loinc"]["tsh"][0].update(code=3016), "not a non-empty string"),
        (lambda c, g: g["drug_groups"]["quinine"].update(if_combination="nope"), "nope"),
        (lambda c, g: g.pop("drug_groups"), "drug_groups"),
    ],
)
def test_inconsistent_data_stops_start_up_with_a_clear_error(mutate: Any, message: str) -> None:
    codes, groups = copy.deepcopy(_data())
    mutate(codes, groups)
    with pytest.raises(TerminologyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Terminology(codes, groups)


def test_group_selecting_nothing_is_refused() -> None:
    codes, groups = copy.deepcopy(_data())
    groups["drug_groups"]["quinine"] = {"from": "quinine"}
    with pytest.raises(TerminologyError, match="selects no code"):
        Terminology(codes, groups)


# -- drugs ---------------------------------------------------------------------------------

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
    ([(RXNORM, "2390767", None)], None, None, {"magnesium_containing"}, "rxnorm:2390767"),
    ([(RXNORM, "25655", None)], None, None, {"magnesium_containing"}, "rxnorm:25655"),  # Gaviscon
    ([], "Magnesium Oxide 400 MG Oral Tablet", None, {"magnesium_supplement"}, None),
    ([], "Milk of Magnesia 400 mg/5 mL", None, {"magnesium_supplement"}, None),
    ([], "Maalox Plus suspension", None, {"magnesium_containing"}, None),
    ([], "calcium carbonate / magnesium hydroxide chewable", None, {"magnesium_containing"}, None),
    ([], "Magnesium sulfate 2 g in dextrose 5%", None, {"magnesium_containing"}, None),
    ([], "magnesium sulfate 500 MG/ML Injection", None, {"magnesium_supplement"}, None),
    (
        [],
        "magnesium oxide/potassium chloride",
        None,
        {"magnesium_containing", "potassium_containing"},
        None,
    ),  # noqa: E501
    ([], "esomeprazole magnesium 40 mg", None, set(), None),
    ([(RXNORM, "628953", None)], None, None, {"potassium_supplement"}, "rxnorm:628953"),
    ([(RXNORM, "2205512", None)], None, None, {"potassium_supplement"}, None),  # K salts only
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
    ([], "K-Phos Neutral tablet", None, {"potassium_containing"}, "text:K-Phos Neutral"),
    ([], "Potassium chloride 20 mEq in sodium chloride 0.9%", None, {"potassium_containing"}, None),
    ([], "losartan potassium 50 mg", None, set(), None),
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


# -- labs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code", "analyte"),
    [
        (LOINC, "2823-3", "potassium"),
        (LOINC, "6298-4", "potassium"),
        (LOINC, "75940-7", "potassium"),
        (None, "2823-3", "potassium"),  # no system, but one of our LOINC codes
        (LOINC, "19123-9", "magnesium"),
        (LOINC, "2601-3", "magnesium"),
        (LOINC, "33914-3", "egfr"),
        (LOINC, "98979-8", "egfr"),
        (LOINC, "48643-1", "egfr"),
        (LOINC, "38483-4", "creatinine"),
        (LOINC, "14682-9", "creatinine"),
        (LOINC, "17861-6", "calcium"),
        (LOINC, "2157-6", "creatine_kinase"),
        (LOINC, "3016-3", "tsh"),
        (LOINC, "2951-2", "sodium"),
        (LOINC, "29349-8", None),  # post-dialysis potassium
        (LOINC, "11041-1", None),  # post-dialysis creatinine
        (LOINC, "51620-3", None),
        (LOINC, "2824-1", None),  # unverified
        (LOINC, "1751-7", None),  # albumin is not calcium
        (LOINC, "49765-1", None),  # Synthea calcium in blood: not in the verified list
        ("https://intranet.aumc.nl/labtestcodes", "20005", None),  # f204 local code
        (SNOMED, "2823-3", None),
        (LOINC, None, None),
    ],
)
def test_analyte_lookup(
    terminology: Terminology, system: str | None, code: str | None, analyte: str | None
) -> None:
    assert terminology.analyte(system, code) == analyte


def test_observation_query_codes_cover_the_rule_analytes_only(terminology: Terminology) -> None:
    tokens = terminology.observation_query_codes()
    assert "http://loinc.org|2823-3" in tokens
    assert "http://loinc.org|98979-8" in tokens
    assert "http://loinc.org|3016-3" in tokens
    for left_out in ("29349-8", "11041-1", "51620-3", "2824-1", "1751-7", "2951-2"):
        assert f"http://loinc.org|{left_out}" not in tokens
    assert len(tokens) == len(set(tokens))
    assert all(t.startswith("http://loinc.org|") for t in tokens)


def test_ckd_epi_2021_is_the_preferred_egfr(terminology: Terminology) -> None:
    ranks = [terminology.preference_rank(c) for c in ("98979-8", "98980-6", "33914-3", "nope")]
    assert ranks == sorted(ranks) and ranks[0] < ranks[2]


# -- conditions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code", "expected", "absent"),
    [
        (ICD10CM, "N18.4", {"ckd", "ckd_g4_g5"}, {"esrd_dialysis"}),
        (ICD10CM, "N184", {"ckd", "ckd_g4_g5"}, set()),
        (ICD10CM, "n18.5", {"ckd", "ckd_g4_g5"}, set()),
        (ICD10CM, "N18.3", {"ckd"}, {"ckd_g4_g5"}),  # legacy non-billable parent
        (ICD10CM, "N18.6", {"ckd", "esrd_dialysis"}, {"ckd_g4_g5"}),
        (ICD10CM, "N18", set(), {"ckd"}),  # codes match exactly, not by prefix
        (SNOMED, "433146000", {"ckd", "ckd_g4_g5"}, set()),
        (SNOMED, "431855005", {"ckd"}, {"ckd_g4_g5"}),  # stage 1 (Isaiah)
        (SNOMED, "236435004", {"ckd", "esrd_dialysis"}, set()),
        (ICD10CM, "Z99.2", {"esrd_dialysis"}, set()),
        (ICD10CM, "Z91.15", {"esrd_dialysis"}, set()),
        (SNOMED, "105502003", {"esrd_dialysis"}, set()),
        (SNOMED, "302497006", set(), {"esrd_dialysis"}),  # hemodialysis procedure
        (ICD10CM, "Z49.31", set(), {"esrd_dialysis"}),  # encounter code
        (SNOMED, "19943007", {"cirrhosis"}, set()),
        (ICD10CM, "K76.82", {"hepatic_encephalopathy"}, set()),
        (ICD10CM, "K72.11", {"cirrhosis", "hepatic_encephalopathy"}, set()),
        (ICD10CM, "E83.42", {"hypomagnesemia"}, set()),
        (ICD10CM, "E87.6", {"hypokalemia"}, set()),
        (ICD10CM, "E83.51", {"hypocalcemia"}, {"22q11_2_deletion"}),
        (ICD10CM, "D82.1", {"22q11_2_deletion"}, set()),
        (ICD10CM, "E20.9", set(), {"22q11_2_deletion"}),
        (ICD10CM, "G40.909", {"seizure_disorder"}, set()),
        (SNOMED, "84757009", {"seizure_disorder"}, set()),
        (
            ICD10CM,
            "F41.1",
            {
                "benzodiazepine_beers_exception",
                "benzodiazepine_beers_exception:generalized_anxiety_disorder",
            },
            set(),
        ),
        (ICD10CM, "B54", {"malaria"}, set()),
        (ICD10CM, "B60.0", {"babesiosis"}, set()),
        (SNOMED, "49436004", {"cardiac_arrhythmia"}, set()),
        (ICD10CM, "I47.21", set(), {"cardiac_arrhythmia"}),  # torsades: an adverse effect
        (ICD10CM, "F48.2", {"pseudobulbar_affect"}, set()),
        (ICD10CM, "E03.9", {"hypothyroidism"}, set()),
        (ICD10CM, "M54.16", {"radiculopathy"}, set()),
        (ICD10CM, "M54.5", {"low_back_pain_or_spasm"}, set()),
        (SNOMED, "45352006", set(), {"low_back_pain_or_spasm"}),
        (ICD10CM, "M62.831", set(), {"low_back_pain_or_spasm"}),  # calf spasm = the cramp
        (ICD10CM, "M08.00", {"juvenile_idiopathic_arthritis"}, set()),
        (ICD10CM, "R25.2", {"muscle_cramp"}, set()),
        (SNOMED, "55300003", {"muscle_cramp"}, set()),
        (None, "N18.5", {"ckd", "ckd_g4_g5"}, set()),  # no system: shape says ICD
        (None, "55300003", {"muscle_cramp"}, set()),  # no system: digits say SNOMED
        ("http://example.org/local", "N18.5", set(), {"ckd"}),
    ],
)
def test_condition_groups(
    terminology: Terminology, system: str | None, code: str, expected: set[str], absent: set[str]
) -> None:
    groups = terminology.condition_groups([(system, code, None)])
    assert expected <= groups
    assert not groups & absent
    if not expected:
        assert not groups


def test_benzodiazepine_exceptions_carry_which_exception(terminology: Terminology) -> None:
    assert "benzodiazepine_beers_exception:rem_sleep_behavior_disorder" in (
        terminology.condition_groups([(ICD10CM, "G47.52", None)])
    )
    assert "benzodiazepine_beers_exception:alcohol_withdrawal" in (
        terminology.condition_groups([(SNOMED, "191480000", None)])
    )
