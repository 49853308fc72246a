"""PatientFacts that write down what is read from them: which fact, which lab, which
condition group. Used to derive each rule's HTI-1 answers from what it actually reads."""

from __future__ import annotations

import dataclasses
from typing import Any

from cds_service.clinical.types import LabValue, PatientFacts

FIELDS = frozenset(f.name for f in dataclasses.fields(PatientFacts) if not f.name.startswith("_"))
Read = tuple[str, str]  # ("fact", name) | ("lab", analyte) | ("condition", group)


class RecordingFacts(PatientFacts):
    """Reads of fields, labs and condition groups go into `reads`; values are unchanged."""

    def __getattribute__(self, name: str) -> Any:
        if name in FIELDS:
            object.__getattribute__(self, "_reads").add(("fact", name))
        return object.__getattribute__(self, name)

    def _note(self, kind: str, name: str) -> None:
        object.__getattribute__(self, "_reads").add((kind, name))

    def lab(self, analyte: Any) -> LabValue | None:
        self._note("lab", analyte)
        return object.__getattribute__(self, "labs").get(analyte)

    @property
    def egfr(self) -> LabValue | None:
        self._note("lab", "egfr")
        return object.__getattribute__(self, "labs").get("egfr")

    def has_condition(self, group: str) -> bool:
        self._note("condition", group)
        return group in object.__getattribute__(self, "_by_group")

    def conditions_in(self, group: str) -> Any:
        self._note("condition", group)
        return object.__getattribute__(self, "_by_group").get(group, ())


def recording(facts: PatientFacts, reads: set[Read]) -> RecordingFacts:
    copy = RecordingFacts.__new__(RecordingFacts)
    for name in [*FIELDS, "_by_group"]:
        object.__setattr__(copy, name, object.__getattribute__(facts, name))
    object.__setattr__(copy, "_reads", reads)
    return copy
