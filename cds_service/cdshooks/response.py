"""CDS Hooks 2.0 response models. Building one that breaks a card rule raises at once.

Rules enforced (CDS Hooks 2.0 §Card Attributes, and the 3.0 invariants cds-resp-1..6):
summary under 140 characters; indicator from the enum; `source.label`; a uuid on every card and
suggestion; `selectionBehavior` whenever there are suggestions; delete actions by `resourceId`
only; create/update carry a resource; `appContext` only on smart links; every override reason
has a display; at most one recommended suggestion under `at-most-one`. Empty optional fields
are omitted from the JSON.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Indicator = Literal["info", "warning", "critical"]
INDICATOR_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


def new_uuid() -> str:
    return str(uuid.uuid4())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        # An OPTIONAL field with no value MUST be omitted, never sent as [] / "" / {}.
        if value in ([], "", {}):
            return None
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Coding(_Strict):
    system: str
    code: str
    display: str | None = None


class OverrideReason(Coding):
    """A reason the clinician may pick when dismissing a card; `display` is required."""

    display: str


class Source(_Strict):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    @field_validator("url", "icon")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("source URLs must be absolute")
        return value


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Action:
        if self.type == "delete":
            if not self.resourceId or self.resource is not None:
                raise ValueError("delete actions name the target by resourceId only")
        elif self.resource is None:
            raise ValueError(f"{self.type} actions must carry the resource")
        return self


class Suggestion(_Strict):
    label: str = Field(min_length=1)
    uuid: str = Field(default_factory=new_uuid)
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(_Strict):
    label: str = Field(min_length=1)
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _app_context_only_on_smart(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only allowed on smart links")
        return self


class Card(_Strict):
    uuid: str = Field(default_factory=new_uuid)
    summary: str = Field(min_length=1, max_length=139)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _selection(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when there are suggestions")
        if not self.suggestions and self.selectionBehavior is not None:
            raise ValueError("selectionBehavior without suggestions")
        if self.selectionBehavior == "at-most-one" and self.suggestions:
            recommended = sum(1 for s in self.suggestions if s.isRecommended)
            if recommended > 1:
                raise ValueError("at most one suggestion may be recommended under at-most-one")
        return self


class CdsResponse(BaseModel):
    """The body of a successful service call: `{"cards": [...]}`, cards may be empty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cards: list[Card] = Field(default_factory=list)
    systemActions: list[Action] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"cards": [card.to_json() for card in self.cards]}
        if self.systemActions:
            body["systemActions"] = [action.to_json() for action in self.systemActions]
        return body
