"""Groups added for issue 10 (codes_added.json and new selections in groups.yaml).

Each group recognises realistic orders and problems (an RxNorm SCD or SBD, an ingredient
name in free text, a combination product; ICD-10-CM and SNOMED CT) and does not swallow its
neighbours ("losartan potassium" is no potassium supplement, nystatin is no statin, magnesium
oxide tablets are no laxative, oral magnesium sulfate is not parenteral).
"""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.conditions import read_conditions
from cds_service.clinical.medications import read_medication
from cds_service.clinical.terminology import Terminology
from tests.clinical.conftest import ATC, ICD10CM, RXNORM, SNOMED, condition, med_request

# (codings, text, dosage route, groups that must be there, groups that must not)
DRUGS: list[tuple[list[Any], str | None, str | None, set[str], set[str]]] = [
    # statin
    ([(RXNORM, "617311", None)], None, None, {"statin"}, set()),  # atorvastatin 40 MG (VSAC)
    ([(RXNORM, "198211", None)], None, None, {"statin"}, set()),  # simvastatin 40 MG
    ([(RXNORM, "859753", None)], None, None, {"statin"}, set()),  # Crestor 20 MG (SBD)
    ([(RXNORM, "83367", None)], None, None, {"statin"}, set()),  # atorvastatin (IN)
    ([], "atorvastatin 40 mg tablet", None, {"statin"}, {"potassium_supplement"}),
    ([], "Lipitor 20mg", None, {"statin"}, set()),
    ([(RXNORM, "476350", None)], None, None, {"statin"}, set()),  # ezetimibe/simvastatin
    ([(RXNORM, "597984", None)], None, None, {"statin"}, set()),  # amlodipine/atorvastatin
    ([], "ezetimibe 10 mg / simvastatin 40 mg tablet", None, {"statin"}, set()),
    ([], "Vytorin 10-40", None, {"statin"}, set()),
    ([(ATC, "C10AA05", None)], None, None, {"statin"}, set()),
    ([(ATC, "C10BA02", None)], None, None, {"statin"}, set()),  # simvastatin and ezetimibe
    ([(ATC, "C10BA10", None)], None, None, set(), {"statin"}),  # bempedoic acid/ezetimibe
    ([], "nystatin 100,000 units/mL suspension", None, set(), {"statin"}),
    ([], "ezetimibe 10 mg tablet", None, set(), {"statin"}),
    # the whole ingredient name wins: a statin salt, not a magnesium supplement
    ([], "pitavastatin magnesium 2 mg tablet", None, {"statin"}, {"magnesium_supplement"}),
    # ACE inhibitor
    ([(RXNORM, "314076", None)], None, None, {"ace_inhibitor"}, set()),  # lisinopril 10 MG
    ([], "lisinopril 20 mg tablet", None, {"ace_inhibitor"}, set()),
    ([(RXNORM, "197885", None)], None, None, {"ace_inhibitor", "diuretic"}, set()),  # + HCTZ
    ([(RXNORM, "85783", None)], None, None, {"ace_inhibitor", "diuretic"}, set()),  # Zestoretic
    ([(RXNORM, "1729200", None)], None, None, {"ace_inhibitor"}, set()),  # enalaprilat IV
    ([(RXNORM, "898342", None)], None, None, {"ace_inhibitor"}, set()),  # amlodipine/benazepril
    ([], "quinapril 20 mg", None, {"ace_inhibitor"}, {"quinine", "quinidine"}),
    ([], "quinine sulfate 324 mg", None, {"quinine"}, {"ace_inhibitor"}),
    # ARB
    (
        [(RXNORM, "979492", None)],  # losartan potassium 50 MG Oral Tablet
        None,
        None,
        {"angiotensin_receptor_blocker"},
        {"potassium_supplement", "potassium_containing"},
    ),
    (
        [],
        "Losartan Potassium 100 MG Oral Tablet",
        None,
        {"angiotensin_receptor_blocker"},
        {"potassium_supplement"},
    ),
    ([(RXNORM, "979468", None)], None, None, {"angiotensin_receptor_blocker", "diuretic"}, set()),
    ([(RXNORM, "217681", None)], None, None, {"angiotensin_receptor_blocker", "diuretic"}, set()),
    ([(RXNORM, "1656349", None)], None, None, {"angiotensin_receptor_blocker"}, set()),  # Entresto
    ([], "Entresto 49-51 mg", None, {"angiotensin_receptor_blocker"}, set()),
    ([], "sacubitril/valsartan 97/103 mg", None, {"angiotensin_receptor_blocker"}, set()),
    ([(RXNORM, "1091646", None)], None, None, {"angiotensin_receptor_blocker"}, set()),
    ([], "Edarbi 40 mg", None, {"angiotensin_receptor_blocker"}, set()),
    ([], "valganciclovir 450 mg tablet", None, set(), {"angiotensin_receptor_blocker"}),
    # potassium-sparing
    ([(RXNORM, "313096", None)], None, None, {"potassium_sparing", "diuretic"}, set()),
    ([], "spironolactone 25 mg", None, {"potassium_sparing", "diuretic"}, set()),
    ([(RXNORM, "351257", None)], None, None, {"potassium_sparing"}, {"diuretic"}),  # eplerenone
    ([], "Kerendia 20 mg", None, {"potassium_sparing"}, set()),  # finerenone
    ([(RXNORM, "93253", None)], None, None, {"potassium_sparing", "diuretic"}, set()),  # Maxzide
    ([(RXNORM, "977880", None)], None, None, {"potassium_sparing"}, set()),  # amiloride 5 MG
    ([(RXNORM, "977883", None)], None, None, {"potassium_sparing", "diuretic"}, set()),
    ([], "amiloride 5 mg daily", None, {"potassium_sparing"}, set()),
    ([(ATC, "C03DA01", None)], None, None, {"potassium_sparing", "diuretic"}, set()),
    ([(ATC, "C03DA04", None)], None, None, {"potassium_sparing"}, set()),
    ([(ATC, "C03EA01", None)], None, None, {"potassium_sparing"}, set()),
    ([], "triamcinolone acetonide 0.1% cream", None, set(), {"potassium_sparing"}),
    ([], "furosemide 40 mg", None, {"diuretic"}, {"potassium_sparing"}),
    # trimethoprim
    ([(RXNORM, "198332", None)], None, None, {"trimethoprim"}, set()),  # trimethoprim 100 MG
    ([(RXNORM, "198335", None)], None, None, {"trimethoprim"}, set()),  # SMX/TMP 800/160
    ([], "Bactrim DS 800-160 mg", None, {"trimethoprim"}, set()),
    ([], "sulfamethoxazole-trimethoprim 800-160 mg tablet", None, {"trimethoprim"}, set()),
    ([], "TMP-SMX DS 1 tab BID", None, {"trimethoprim"}, set()),
    ([(RXNORM, "244967", None)], None, None, set(), {"trimethoprim"}),  # Polytrim eye drops
    ([], "trimethoprim 1 mg/mL ophthalmic", "other", set(), {"trimethoprim"}),
    ([], "trimethobenzamide 300 mg capsule", None, set(), {"trimethoprim"}),
    # magnesium_sulfate_parenteral
    (
        [(RXNORM, "1658244", None)],  # 10 ML magnesium sulfate 500 MG/ML Injection
        None,
        None,
        {"magnesium_sulfate_parenteral", "magnesium_supplement"},
        set(),
    ),
    ([(RXNORM, "6585", None)], None, "injection", {"magnesium_sulfate_parenteral"}, set()),
    ([(RXNORM, "6585", None)], None, "oral", set(), {"magnesium_sulfate_parenteral"}),
    ([], "magnesium sulfate 2 g IV over 1 hour", None, {"magnesium_sulfate_parenteral"}, set()),
    (
        [],
        "magnesium sulfate 4 g in dextrose 5% 100 mL",
        "injection",
        {"magnesium_sulfate_parenteral", "magnesium_containing"},
        {"magnesium_supplement"},
    ),
    ([(RXNORM, "1053346", None)], None, None, set(), {"magnesium_sulfate_parenteral"}),  # granules
    ([(RXNORM, "1666549", None)], None, None, set(), {"magnesium_sulfate_parenteral"}),  # capsule
    ([(RXNORM, "1120068", None)], None, None, set(), {"magnesium_sulfate_parenteral"}),  # Suprep
    (
        [],
        "magnesium sulfate 1000 mg granules for oral solution",
        None,
        set(),
        {"magnesium_sulfate_parenteral"},
    ),
    # magnesium_laxative_antacid
    ([(RXNORM, "204760", None)], None, None, {"magnesium_laxative_antacid"}, set()),  # MoM
    ([(RXNORM, "219233", None)], None, None, {"magnesium_laxative_antacid"}, set()),  # Phillips
    ([], "milk of magnesia 30 mL at bedtime", None, {"magnesium_laxative_antacid"}, set()),
    ([(RXNORM, "1052760", None)], None, None, {"magnesium_laxative_antacid"}, set()),
    ([], "magnesium citrate oral solution 296 mL", None, {"magnesium_laxative_antacid"}, set()),
    ([(RXNORM, "2465556", None)], None, None, {"magnesium_laxative_antacid"}, set()),  # Sutab
    ([(RXNORM, "212978", None)], None, None, {"magnesium_laxative_antacid"}, set()),  # Gaviscon
    ([(ATC, "A06AD04", None)], None, None, {"magnesium_laxative_antacid"}, set()),
    ([(ATC, "A12CC02", None)], None, None, set(), {"magnesium_laxative_antacid"}),
    ([(RXNORM, "1313985", None)], None, None, set(), {"magnesium_laxative_antacid"}),  # citrate tab
    ([(RXNORM, "93204", None)], None, None, set(), {"magnesium_laxative_antacid"}),  # Mag-Ox 400
    ([], "Magnesium Oxide 400 MG Oral Tablet", None, set(), {"magnesium_laxative_antacid"}),
    ([(RXNORM, "723739", None)], None, None, set(), {"magnesium_laxative_antacid"}),  # Cramp-free
    ([(RXNORM, "198993", None)], None, None, set(), {"magnesium_laxative_antacid"}),  # malate
    # potassium_citrate
    (
        [(RXNORM, "199381", None)],  # potassium citrate 10 MEQ ER tablet
        None,
        None,
        {"potassium_citrate", "potassium_supplement"},
        set(),
    ),
    ([(RXNORM, "220697", None)], None, None, {"potassium_citrate"}, set()),  # Urocit-K
    ([(RXNORM, "209304", None)], None, None, {"potassium_citrate", "potassium_containing"}, set()),
    ([], "Potassium citrate ER 15 mEq tablet", None, {"potassium_citrate"}, set()),
    ([(RXNORM, "248421", None)], None, None, {"potassium_supplement"}, {"potassium_citrate"}),
    ([(RXNORM, "628953", None)], None, None, {"potassium_supplement"}, {"potassium_citrate"}),
    # potassium_phosphate
    ([(RXNORM, "1251241", None)], None, None, {"potassium_phosphate"}, set()),  # K-Phos Neutral
    ([], "potassium phosphate 15 mmol IV", "injection", {"potassium_phosphate"}, set()),
    ([(RXNORM, "800808", None)], None, None, {"potassium_containing"}, {"potassium_phosphate"}),
    # midazolam_injection
    ([(RXNORM, "311702", None)], None, None, {"midazolam_injection", "benzodiazepine"}, set()),
    ([(RXNORM, "2057964", None)], None, None, {"midazolam_injection"}, set()),  # Seizalam
    ([(RXNORM, "6960", None)], None, "injection", {"midazolam_injection"}, set()),
    ([(RXNORM, "6960", None)], None, "oral", {"benzodiazepine"}, {"midazolam_injection"}),
    ([], "midazolam 2 mg IV for procedure", None, {"midazolam_injection"}, set()),
    ([(RXNORM, "2173500", None)], None, None, set(), {"midazolam_injection"}),  # Nayzilam
    ([(RXNORM, "422410", None)], None, None, {"benzodiazepine"}, {"midazolam_injection"}),
]


@pytest.mark.parametrize(("codings", "text", "route", "present", "absent"), DRUGS)
def test_drug_groups_added_for_issue_10(
    terminology: Terminology,
    codings: list[Any],
    text: str | None,
    route: str | None,
    present: set[str],
    absent: set[str],
) -> None:
    groups = terminology.medication_groups(codings, text, dosage_route=route).groups
    assert present <= groups
    assert not groups & absent


# (system, code, groups that must be there, groups that must not)
CONDITIONS: list[tuple[str, str, set[str], set[str]]] = [
    (ICD10CM, "Z33.1", {"pregnancy"}, set()),
    (ICD10CM, "Z34.83", {"pregnancy"}, set()),
    (ICD10CM, "O09.513", {"pregnancy"}, set()),
    (ICD10CM, "O24.414", {"pregnancy"}, set()),  # gestational diabetes in pregnancy
    (ICD10CM, "O26.893", {"pregnancy"}, set()),
    (ICD10CM, "O36.4XX0", {"pregnancy"}, set()),
    (ICD10CM, "Z3A.28", {"pregnancy"}, set()),
    (ICD10CM, "O14.13", {"pregnancy", "pre_eclampsia_eclampsia"}, set()),
    (ICD10CM, "O1413", {"pregnancy", "pre_eclampsia_eclampsia"}, set()),  # without the dot
    (SNOMED, "72892002", {"pregnancy"}, set()),  # normal pregnancy
    (SNOMED, "77386006", {"pregnancy"}, set()),
    (SNOMED, "198992004", {"pregnancy", "pre_eclampsia_eclampsia"}, set()),
    # childbirth, the puerperium and abortive outcomes are not a current pregnancy
    (ICD10CM, "O80", set(), {"pregnancy"}),
    (ICD10CM, "O14.15", {"pre_eclampsia_eclampsia"}, {"pregnancy"}),
    (ICD10CM, "O24.430", set(), {"pregnancy"}),
    (ICD10CM, "O60.14X0", set(), {"pregnancy"}),  # preterm labour with delivery
    (ICD10CM, "O90.3", set(), {"pregnancy"}),
    (ICD10CM, "O99.43", set(), {"pregnancy"}),
    (ICD10CM, "O00.101", set(), {"pregnancy"}),  # tubal pregnancy
    (ICD10CM, "Z39.2", set(), {"pregnancy"}),
    (SNOMED, "46764007", {"pre_eclampsia_eclampsia"}, {"pregnancy"}),  # severe pre-eclampsia
    (ICD10CM, "O15.2", {"pre_eclampsia_eclampsia"}, {"pregnancy"}),
    (ICD10CM, "I47.21", {"torsades_de_pointes"}, {"cardiac_arrhythmia"}),
    (SNOMED, "31722008", {"torsades_de_pointes"}, set()),
    (ICD10CM, "J45.901", {"asthma"}, set()),
    (SNOMED, "195967001", {"asthma"}, set()),
    (SNOMED, "85761009", set(), {"asthma"}),  # byssinosis
    (ICD10CM, "J44.1", set(), {"asthma"}),  # COPD
    (ICD10CM, "N20.0", {"kidney_stones"}, set()),
    (ICD10CM, "N13.2", {"kidney_stones"}, set()),
    (ICD10CM, "Z87.442", {"kidney_stones"}, set()),
    (ICD10CM, "N28.1", set(), {"kidney_stones"}),
    (ICD10CM, "E83.31", {"hypophosphatemia"}, set()),
    (ICD10CM, "E83.39", set(), {"hypophosphatemia"}),  # also codes hyperphosphataemia
    (ICD10CM, "Z51.5", {"palliative_or_hospice_care"}, set()),
    (SNOMED, "385763009", {"palliative_or_hospice_care"}, set()),  # hospice care
    (SNOMED, "103735009", {"palliative_or_hospice_care"}, set()),
    (SNOMED, "306237005", set(), {"palliative_or_hospice_care"}),  # a referral only
    (ICD10CM, "E87.5", {"hyperkalemia"}, {"hypokalemia"}),
    (ICD10CM, "E87.6", {"hypokalemia"}, {"hyperkalemia"}),
    (ICD10CM, "E83.41", {"hypermagnesemia"}, {"hypomagnesemia"}),
    (ICD10CM, "E83.42", {"hypomagnesemia"}, {"hypermagnesemia"}),
    (ICD10CM, "K59.00", {"constipation"}, set()),
    (ICD10CM, "K59.03", {"constipation"}, set()),  # drug induced (opioids)
    (SNOMED, "14760008", {"constipation"}, set()),
    (ICD10CM, "K59.1", set(), {"constipation"}),
    (ICD10CM, "G72.0", {"drug_induced_myopathy_or_rhabdomyolysis"}, set()),
    (ICD10CM, "M62.82", {"drug_induced_myopathy_or_rhabdomyolysis"}, set()),
    (SNOMED, "240131006", {"drug_induced_myopathy_or_rhabdomyolysis"}, set()),
    (ICD10CM, "T79.6XXA", set(), {"drug_induced_myopathy_or_rhabdomyolysis"}),  # trauma
]


@pytest.mark.parametrize(("system", "code", "present", "absent"), CONDITIONS)
def test_condition_groups_added_for_issue_10(
    terminology: Terminology, system: str, code: str, present: set[str], absent: set[str]
) -> None:
    groups = terminology.condition_groups([(system, code, None)])
    assert present <= groups
    assert not groups & absent
    if not present:
        assert not groups


def test_unverified_placeholders_give_no_code(terminology: Terminology) -> None:
    # Hyperkalemia, hypermagnesemia, hypophosphatemia and kidney stone have no verified SNOMED
    # CT code: their entries have code null, and no SNOMED code maps to these groups.
    wanted = {"hyperkalemia", "hypermagnesemia", "hypophosphatemia", "kidney_stones"}
    assert not any(groups & wanted for groups in terminology._snomed.values())


def test_an_iv_magnesium_order_for_pre_eclampsia_reads_as_such(terminology: Terminology) -> None:
    order = med_request(
        text="Magnesium sulfate 4 g IV loading dose",
        dosageInstruction=[{"route": {"text": "Intravenous"}}],
        reasonCode=[{"coding": [{"system": ICD10CM, "code": "O14.13"}]}],
    )
    med = read_medication(order, terminology=terminology, medication_index={})
    assert med is not None
    assert {"magnesium_sulfate_parenteral", "magnesium_supplement"} <= med.groups
    assert {"pre_eclampsia_eclampsia", "pregnancy"} <= med.reason_groups
    assert med.route == "injection"


def test_a_coded_statin_order_and_a_pregnancy_problem(terminology: Terminology) -> None:
    med = read_medication(
        med_request(rxnorm="617311", display="atorvastatin 40 MG Oral Tablet"),
        terminology=terminology,
        medication_index={},
    )
    assert med is not None and med.groups == {"statin"} and med.route == "oral"
    reading = read_conditions(
        [condition("77386006", SNOMED), condition("Z34.83", cid="c2")], terminology=terminology
    )
    assert len(reading.conditions) == 2
    assert all("pregnancy" in fact.groups for fact in reading.conditions)
