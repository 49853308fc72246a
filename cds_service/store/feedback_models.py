"""The feedback request body (CDS Hooks 2.0 §Feedback), parsed once at the API edge.

Lenient where real clients differ (extra fields and `extension` are ignored; a reason may come
without `display`, or, from the sandbox, without `system`), strict where the data would be
wrong: `outcome` is one of two words, `accepted` needs the suggestion ids, and
`outcomeTimestamp` is an RFC 3339 date-time with an offset, stored as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

Outcome = Literal["accepted", "overridden"]

# RFC 3339 §5.6 date-time. ASCII digits only (`\d` would accept other scripts' digits).
_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_rfc3339(value: object) -> datetime:
    """`2020-12-11T00:00:00Z`, `1985-04-12T23:20:50.52Z`, `...+02:00` -> an aware UTC datetime.

    Refuses numbers (pydantic would read them as Unix times), bare dates and offset-less times.
    """
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string")
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2020-12-11T00:00:00Z")
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    offset = match["offset"].upper()
    # RFC 3339 allows a leap second (:60); Python does not, so fold it into the second before.
    second = min(int(match["second"]), 59)
    try:
        parsed = datetime.fromisoformat(
            f"{match['date']}T{match['hour']}:{match['minute']}:{second:02d}.{fraction}"
            + ("+00:00" if offset == "Z" else offset)
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # month 13, hour 25, offset +24:00, year 0 ...
        raise ValueError("is not a valid calendar date-time") from None


Rfc3339DateTime = Annotated[datetime, BeforeValidator(parse_rfc3339)]


class _Model(BaseModel):
    # Extra fields (including `extension`) are ignored, never refused (checklist §9).
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class FeedbackCoding(_Model):
    """CDS Hooks' Coding. Clients echo our override reason without `display` (spec example,
    sandbox), and the sandbox sends `system` only when the card's reason had one."""

    code: str = Field(min_length=1, max_length=128)
    system: str | None = Field(None, max_length=256)
    display: str | None = Field(None, max_length=512)


class OverrideReason(_Model):
    reason: FeedbackCoding | None = None
    userComment: str | None = Field(None, max_length=2000)


class AcceptedSuggestion(_Model):
    id: str = Field(min_length=1, max_length=64)


class FeedbackItem(_Model):
    """One card outcome. Ignored cards are never reported, so there are only two outcomes."""

    card: str = Field(min_length=1, max_length=64)
    outcome: Outcome
    outcomeTimestamp: Rfc3339DateTime
    acceptedSuggestions: list[AcceptedSuggestion] | None = Field(
        None, max_length=100, validate_default=True
    )
    overrideReason: OverrideReason | None = None

    @field_validator("acceptedSuggestions")
    @classmethod
    def _required_when_accepted(
        cls, value: list[AcceptedSuggestion] | None, info: ValidationInfo
    ) -> list[AcceptedSuggestion] | None:
        # A field validator (not a model validator) so the error names this field.
        if info.data.get("outcome") == "accepted" and not value:
            raise ValueError("is required (non-empty) when outcome is 'accepted'")
        return value


class FeedbackRequest(_Model):
    """The body of `POST /cds-services/{id}/feedback`."""

    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100)
