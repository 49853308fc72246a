"""Terminology: the data files load, validate, and answer the group questions the rules ask."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from importlib import resources
from typing import Any

import pytest

from cds_service.clinical.terminology import (
    Terminology,
    TerminologyError,
    get_terminology,
    read_data,
)
from cds_service.clinical.terminology_merge import merge_codes
from tests.clinical.conftest import ICD10CM, LOINC, RXNORM, SNOMED

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
    # issue 10 (codes_added.json and new selections)
    "statin",
    "ace_inhibitor",
    "angiotensin_receptor_blocker",
    "potassium_sparing",
    "trimethoprim",
    "magnesium_sulfate_parenteral",
    "magnesium_laxative_antacid",
    "potassium_citrate",
    "potassium_phosphate",
    "midazolam_injection",
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
    # issue 10 (codes_added.json)
    "pregnancy",
    "pre_eclampsia_eclampsia",
    "torsades_de_pointes",
    "asthma",
    "kidney_stones",
    "hypophosphatemia",
    "palliative_or_hospice_care",
    "hyperkalemia",
    "hypermagnesemia",
    "constipation",
    "drug_induced_myopathy_or_rhabdomyolysis",
}


def _data() -> tuple[dict[str, Any], dict[str, Any]]:
    return read_data()  # codes.json merged with codes_added.json, and groups.yaml


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


def test_codes_added_json_is_the_one_the_readme_describes() -> None:
    base = resources.files("cds_service.clinical") / "data"
    raw = (base / "codes_added.json").read_bytes()
    readme = (base / "README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(raw).hexdigest() in readme, "README.md must record its hash"
    meta = json.loads(raw)["meta"]
    assert meta["date"] in readme


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
        (lambda c, g: g.update(analytes={"potassium": {"from": "potassium"}}), "labs.yaml"),
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
        (LOINC, "49765-1", "calcium"),  # Synthea's calcium in blood (codes_added.json, in use)
        ("https://intranet.aumc.nl/labtestcodes", "20005", None),  # f204 local code
        (SNOMED, "2823-3", None),
        (LOINC, None, None),
    ],
)
def test_analyte_lookup(
    terminology: Terminology, system: str | None, code: str | None, analyte: str | None
) -> None:
    found = terminology.lab_code(system, code)
    assert (found[0] if found else None) == analyte


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
    ranks = [terminology.lab_codes[c][2] for c in ("98979-8", "98980-6", "33914-3")]
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
        # torsades: an adverse effect, not a quinidine indication; an IV magnesium indication
        (ICD10CM, "I47.21", {"torsades_de_pointes"}, {"cardiac_arrhythmia"}),
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


# -- codes_added.json: merged at start-up, never a code twice --------------------------------


def _base_and_added() -> tuple[dict[str, Any], dict[str, Any]]:
    base = resources.files("cds_service.clinical") / "data"
    codes = json.loads((base / "codes.json").read_text(encoding="utf-8"))
    added = json.loads((base / "codes_added.json").read_text(encoding="utf-8"))
    return codes, added


def test_codes_added_sections_are_merged_next_to_the_knowledge_base() -> None:
    codes, added = _base_and_added()
    merged = merge_codes(codes, added)
    assert set(merged["rxnorm_groups"]) == set(codes["rxnorm_groups"]) | set(added["rxnorm_groups"])
    assert set(merged["conditions"]) == set(codes["conditions"]) | set(added["conditions"])
    assert merged["meta"] == codes["meta"]  # codes_added.json keeps its own meta


def _rx(code: str) -> dict[str, Any]:
    return {"system": RXNORM, "code": code, "display": "x", "tty": "IN", "verified_by": ["t"]}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        # a section both files define
        (lambda a: a["rxnorm_groups"].update(diuretics={"ingredients": []}), "already in codes.json"),
        # spironolactone is in codes.json diuretics: it may not be defined again
        (lambda a: a["rxnorm_groups"]["statins"]["ingredients"].append(_rx("9997")), "diuretics"),
        # the same code in two sections of codes_added.json
        (
            lambda a: a["rxnorm_groups"]["trimethoprim"]["ingredients"].append(_rx("36567")),
            "codes_added.json rxnorm_groups.statins",
        ),
        # ICD-10-CM codes compare without the dot: Z331 is Z33.1
        (
            lambda a: a["conditions"]["asthma"].append(
                {"system": ICD10CM, "code": "Z331", "display": "x", "verified_by": ["t"]}
            ),
            "pregnancy",
        ),
        (lambda a: a["conditions"]["hyperkalemia"].append(
            {"system": ICD10CM, "code": "E87.6", "display": "x", "verified_by": ["t"]}
        ), "electrolyte_disorders"),
        (lambda a: a.pop("meta"), "meta"),
        (lambda a: a["meta"].pop("sources"), "meta"),
        (lambda a: a.update(units={}), "cannot add"),
        (lambda a: a["loinc"].update(calcium=[]), "already in codes.json"),
        (lambda a: a.update(conditions=[]), "must be a mapping"),
    ],
)
def test_codes_added_may_not_define_a_section_or_code_twice(mutate: Any, message: str) -> None:
    codes, added = _base_and_added()
    mutate(added)
    with pytest.raises(TerminologyError, match=message):
        merge_codes(codes, added)


def test_unverified_entries_are_skipped_by_code_and_by_name() -> None:
    codes, groups = _data()
    brands = codes["rxnorm_groups"]["statins"]["brand_names"]
    assert any(b["code"] is None and b["display"] == "Lipitor" for b in brands)
    groups["drug_groups"]["statin"].pop("extra_names")  # Lipitor is there as a plain name too
    terminology = Terminology(codes, groups)
    assert "statin" not in terminology.medication_groups([], "Lipitor 20 mg").groups
    assert "statin" in terminology.medication_groups([], "atorvastatin 20 mg").groups


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda g: g["drug_groups"]["statin"].update(products={"colour": "red"}), "unknown keys"),
        (
            lambda g: g["drug_groups"]["ace_inhibitor"]["also"][0].update(brand="x"),
            r"also\[0\]: unknown keys",
        ),
        (
            lambda g: g["drug_groups"]["potassium_citrate"]["products"].update(exclude=["1"]),
            r"\['1'\]",
        ),
        (
            lambda g: g["drug_groups"]["ace_inhibitor"]["also"][0].update({"from": "nope"}),
            "rxnorm_groups.nope",
        ),
        (
            lambda g: g["drug_groups"]["trimethoprim"].update(
                products={"with_ingredient": ["aspirin"]}, brand_names=None, atc=[],
                ingredients=None, extra_names=[]
            ),
            "selects no code",
        ),
    ],
)
def test_new_selectors_are_checked_too(mutate: Any, message: str) -> None:
    codes, groups = copy.deepcopy(_data())
    mutate(groups)
    with pytest.raises(TerminologyError, match=message):
        Terminology(codes, groups)


def test_every_added_code_carries_its_provenance() -> None:
    _codes, added = _base_and_added()
    assert added["meta"]["date"] and added["meta"]["sources"]
    entries: list[dict[str, Any]] = [
        e
        for section in added["rxnorm_groups"].values()
        for key in ("ingredients", "products", "brand_names", "atc", "snomed_substance")
        for e in section[key]
    ]
    entries += [e for section in added["conditions"].values() for e in section if "code" in e]
    assert len(entries) > 2500
    for entry in entries:
        if entry["code"] is None:
            assert entry["status"].startswith("UNVERIFIED"), entry
        else:
            assert entry.get("verified_by") or entry.get("source"), entry
            assert isinstance(entry["code"], str) and entry["code"] == entry["code"].strip()
    products = [p for s in added["rxnorm_groups"].values() for p in s["products"]]
    for product in products:
        assert product["tty"] in {"SCD", "SBD", "GPCK", "BPCK"}
        assert product["route"] in {"oral", "injection", "other"}
        assert isinstance(product["multi_ingredient"], bool)
        assert product["multi_ingredient"] == (" / " in product["display"])
    icd = [e for s in added["conditions"].values() for e in s if e.get("system") == ICD10CM]
    assert all(e["verified_by"][0] == "ICD-10-CM 2026" for e in icd)
    assert all(re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", e["code"]) for e in icd)
