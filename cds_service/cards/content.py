"""The shape of the card content files in `cards/`, checked field by field at start-up.

Files: `_common.yaml` (shared text, override reasons, layout), `_orderables.yaml` (codes for
suggestion actions) and one file per rule whose top-level keys are card keys. Unknown fields
are errors, so a typo in a file clinicians edit fails loudly instead of being ignored.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class CardContentError(Exception):
    """The card content in `cards/` is missing, malformed or does not match the rules.

    Raised by `CardCatalog.load()` at start-up, never while answering a hook call.
    """


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _absolute(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ValueError("must be an absolute http(s) URL")
    if any(c.isspace() or c in "()<>" for c in url):
        raise ValueError("must not contain spaces, parentheses or angle brackets (Markdown link)")
    return url


class Reference(_Model):
    label: str = Field(min_length=1, pattern=r"^[^\[\]]+$")  # no brackets: Markdown link text
    url: str

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        return _absolute(value)


class Topic(_Model):
    code: str = Field(min_length=1, pattern=r"^[a-z0-9-]+$")
    display: str = Field(min_length=1)


class CardFile(_Model):
    """One card: what clinicians edit."""

    indicator: Literal["info", "warning", "critical"]
    topic: Topic
    summary: str = Field(min_length=1)
    detail: str = Field(min_length=1)
    source: Reference
    references: list[Reference] = Field(default_factory=list)
    evidence: str = Field(min_length=1)
    override_reasons: str
    suggestions: dict[str, str] = Field(default_factory=dict)


class Reason(_Model):
    code: str = Field(min_length=1, pattern=r"^[a-z0-9-]+$")
    display: str = Field(min_length=1)


class ActionTexts(_Model):
    delete: str
    create_baclofen: str
    create_lab: str


class CommonFile(_Model):
    topic_system: str
    override_reason_system: str
    override_reasons: dict[str, list[Reason]]
    actions: ActionTexts
    layout: str

    @field_validator("topic_system", "override_reason_system")
    @classmethod
    def _absolute_system(cls, value: str) -> str:
        return _absolute(value)


class Lab(_Model):
    name: str
    text: str
    loinc: str = Field(pattern=r"^\d{1,7}-\d$")
    display: str
    provenance: str = Field(min_length=1)


class Coding(_Model):
    system: str  # a key of OrderablesFile.systems
    code: str
    display: str
    provenance: str = Field(min_length=1)


class ReasonText(_Model):
    text: str
    codings: list[Coding]


class Step(_Model):
    text: str = Field(min_length=1)
    dose_mg: float = Field(gt=0, le=30)
    per_day: int = Field(ge=1, le=4)
    days: int | None = Field(default=None, ge=1, le=90)


class Schedule(_Model):
    summary: str = Field(min_length=1, max_length=60)
    rxnorm: str = Field(pattern=r"^\d+$")
    display: str
    provenance: str = Field(min_length=1)
    note: str = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)


class OrderablesFile(_Model):
    systems: dict[str, str]
    labs: dict[str, Lab]
    cramp_reason: ReasonText
    baclofen_schedules: dict[str, Schedule]


# libyaml's parser when PyYAML was built with it (about 15x faster); the same safe constructor.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, name: str) -> Any:
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # a safe loader
    except yaml.YAMLError as exc:
        raise CardContentError(f"{name}: not valid YAML: {exc}") from None


def validate(model: type[_Model], data: Any, name: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()[:10]
        )
        raise CardContentError(f"{name}: {problems}") from None
