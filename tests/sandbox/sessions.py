"""Sandbox sessions (fixtures/sandbox-sessions/): the file format and its loader.

A session is one patient (the scenario table's data keys: `patient`, `labs`, `conditions`,
`medications`, `bundle`, ...) and the steps a tester takes in the sandbox's Rx screens. Each step
is what the sandbox sends for it, with what the answer must hold (the scenario table's
`expect`). See fixtures/sandbox-sessions/README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cds_service.rules import RULE_IDS
from cds_service.rules.types import Indicator
from cds_service.tools.scenario_model import Expect, Scenario

StepKind = Literal[
    "open-rx-view", "choose-condition", "choose-medication", "accept-suggestion", "dismiss", "sign"
]
# Keys a session shares with a scenario: the patient's data, as the EHR's FHIR server holds it.
DATA_KEYS = frozenset(
    {"source", "as_of", "chart_as_of", "bundle", "patient_id", "patient", "labs",
     "observations", "conditions", "medications"}
)  # fmt: skip


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Model):
    do: StepKind
    code: str | None = None  # choose-condition: the code of a Condition on the problem list
    rxnorm: str | None = None  # choose-medication
    name: str | None = None  # choose-medication: the name in the sandbox's medication list
    card: str | None = None  # accept-suggestion, dismiss: the card key
    label: str | None = None  # accept-suggestion: part of the suggestion's label
    reason: str | None = None  # dismiss: an override reason code the card offers
    expect: Expect | None = None  # the answer to the call this step makes (if it makes one)
    draft_is_not_an_order: bool = False  # no card names or acts on the medication-less draft
    at_most: Indicator | None = None  # no card more urgent than this (e.g. info)
    sandbox_medication: str | None = None  # accept: the draft's RxNorm code after ("" = empty)
    ehr_orders: list[str] | None = None  # accept: an every-action EHR's orders after
    xfail: str | None = None

    @model_validator(mode="after")
    def _fields(self) -> Step:
        need = {
            "choose-condition": ("code",),
            "choose-medication": ("rxnorm", "name"),
            "accept-suggestion": ("card", "label"),
            "dismiss": ("card",),
        }.get(self.do, ())
        missing = [name for name in need if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.do} needs {', '.join(missing)}")
        return self


class Outcomes(_Model):
    accepted: int | None = None
    overridden: int | None = None


class Session(_Model):
    name: str
    description: str
    data: dict[str, Any]
    steps: list[Step] = Field(min_length=1)
    report: dict[str, Outcomes] = Field(default_factory=dict)  # rule id -> counts after
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, dict):
            data = {k: v for k, v in value.items() if k in DATA_KEYS}
            value = {k: v for k, v in value.items() if k not in DATA_KEYS} | {"data": data}
        return value

    @model_validator(mode="after")
    def _check(self) -> Session:
        self.scenario("patient-view", [])  # the patient data is a valid scenario's
        unknown = set(self.report) - set(RULE_IDS)
        if unknown:
            raise ValueError(f"report: unknown rule ids {sorted(unknown)}")
        return self

    def scenario(self, hook: str, orders: list[dict[str, Any]], **extra: Any) -> Scenario:
        """A scenario for one call of this session (the table's builder makes the request)."""
        return Scenario.model_validate(
            {
                "name": self.name,
                "description": self.description,
                **self.data,
                "hook": hook,
                "orders": orders,
                "expect": {},
                **extra,
            }
        ).model_copy(update={"file": self.file})


def load_sessions(directory: Path) -> list[Session]:
    sessions: list[Session] = []
    for path in sorted(directory.glob("*.yaml")):
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(items, list), f"{path.name}: a YAML list of sessions"
        for item in items:
            sessions.append(Session.model_validate(item).model_copy(update={"file": path}))
    names = [s.name for s in sessions]
    assert len(names) == len(set(names)), "session names must be unique"
    return sessions
