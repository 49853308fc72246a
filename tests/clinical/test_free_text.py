"""What an order's own words state, with negation: the free-text reader."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from cds_service.clinical.free_text import FreeTextReader
from cds_service.clinical.terminology import Terminology, TerminologyError


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        # cramps, affirmed
        ("Nocturnal leg cramps", {"muscle_cramp"}),
        ("1 tab qhs for cramping", {"muscle_cramp"}),
        ("for leg CRAMPS", {"muscle_cramp"}),
        ("charley horse at night", {"muscle_cramp"}),
        ("no fever but leg cramps every night", {"muscle_cramp"}),  # clause boundary
        ("no change in her calf cramps", {"muscle_cramp"}),  # pseudo-negation
        ("cramps not relieved by stretching", {"muscle_cramp"}),
        ("history of cramps", {"muscle_cramp"}),
        # cramps, negated
        ("denies leg cramps", set()),
        ("No cramps.", set()),
        ("Patient denies any muscle cramps or weakness", set()),
        ("without cramping", set()),
        ("w/o cramps", set()),
        ("leg cramps resolved", set()),
        ("Cramps: none", set()),
        ("negative for cramps", set()),
        ("scramped", set()),  # not the word
        ("muscle spasm", set()),
        # a negation reaches only its own sentence
        ("No seizures. Leg cramps at night.", {"muscle_cramp"}),
        ("Leg cramps. No seizures.", {"muscle_cramp"}),
        # and only a few words
        ("no problems with sleep, appetite or mood, ongoing leg cramps", {"muscle_cramp"}),
        # proper uses and Beers exceptions
        ("Malaria prophylaxis", {"malaria"}),
        ("P. falciparum, severe", {"malaria"}),
        ("CIWA protocol for alcohol withdrawal", {"alcohol_or_benzodiazepine_withdrawal"}),
        ("denies alcohol withdrawal symptoms", set()),
        ("history of seizures", {"seizure_disorder"}),
        ("no seizures", set()),
        ("seizure-free for 2 years", {"seizure_disorder"}),
        ("pre-op sedation", {"procedure"}),
        ("moderate sedation for colonoscopy", {"procedure"}),
        ("Hospice patient, comfort care", {"palliative_or_hospice_care"}),
        ("end-of-life care", {"palliative_or_hospice_care"}),
        ("not on hospice", set()),
        ("seizure prophylaxis, severe pre-eclampsia", {"pre_eclampsia_eclampsia", "seizure_disorder"}),
        ("Torsades de pointes", {"torsades_de_pointes"}),
        ("acute severe asthma", {"asthma"}),
        ("constipation", {"laxative_or_bowel_prep"}),
        ("bowel prep before colonoscopy", {"laxative_or_bowel_prep", "procedure"}),
        ("heartburn", {"antacid_use"}),
        ("recurrent calcium oxalate kidney stones", {"kidney_stones"}),
        ("low phosphate", {"hypophosphatemia"}),
        ("hypokalemia on furosemide", {"hypokalemia"}),
        ("low magnesium", {"hypomagnesemia"}),
        ("atrial fibrillation", {"cardiac_arrhythmia"}),
        # a deficiency to prevent is a purpose, not the deficiency; other prophylaxis stays
        ("to prevent low K on furosemide", {"electrolyte_loss_prevention"}),
        ("prophylaxis of diuretic-induced hypokalemia", {"electrolyte_loss_prevention"}),
        ("hypokalemia; prevent recurrence", {"hypokalemia"}),
        ("seizure prophylaxis", {"seizure_disorder"}),
        ("malaria prophylaxis", {"malaria"}),
        ("", set()),
    ],
)
def test_groups_a_text_affirms(terminology: Terminology, text: str, groups: set[str]) -> None:
    assert terminology.free_text.groups([text]) == groups


def test_several_texts_and_non_strings(terminology: Terminology) -> None:
    found = terminology.free_text.groups(["for cramps", None, 42, {"text": "x"}, "malaria"])
    assert found == {"muscle_cramp", "malaria"}


def test_a_long_text_is_read_in_linear_time(terminology: Terminology) -> None:
    """Adversarial input: many cues and phrases; bounded windows keep it linear."""
    text = "no " * 20_000 + "cramps " * 20_000 + "x" * 50_000
    assert terminology.free_text.groups([text]) == {"muscle_cramp"}


def _data() -> dict[str, Any]:
    from cds_service.clinical.terminology import _DATA

    data: dict[str, Any] = yaml.safe_load((_DATA / "text_terms.yaml").read_text("utf-8"))
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["groups"].update(gout=["gout"]), "neither a condition group"),
        (lambda d: d["groups"]["malaria"].append(7), "not a string"),
        (lambda d: d["negation"].update(window=0), "window"),
        (lambda d: d["negation"]["before"].append("no*"), "not a plain phrase"),
        (lambda d: d["prevention"].update(becomes="nothing_known"), "text_terms.prevention"),
    ],
)
def test_bad_text_terms_stop_start_up(terminology: Terminology, mutate: Any, message: str) -> None:
    data = copy.deepcopy(_data())
    mutate(data)
    with pytest.raises(TerminologyError, match=message):
        FreeTextReader(data, terminology.condition_group_ids)
