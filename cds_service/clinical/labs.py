"""Observations -> the latest valid result per analyte, with notes on what was left out.

Valid means status final, amended or corrected (STU3 SMART data says "unknown": those are
left out and a note says so, because an unverified result should not drive a drug warning),
a usable value and unit, and a date within `max_age_days` of `as_of`. The date is effective[x]
(period end, else start) or, failing that, `issued`. A result with no date at all is used only
when the analyte has no dated result at all (not even a too-old one), and then with a note.
When several results share the latest date, the terminology's preferred code wins (eGFR:
CKD-EPI 2021), then the later time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from cds_service.cdshooks.resources import Resource
from cds_service.clinical.observation import (
    VALID_STATUSES,
    Candidate,
    LabSkip,
    lab_code,
    lab_value,
    observation_date,
    read_candidates,
)
from cds_service.clinical.terminology import Terminology
from cds_service.clinical.types import LabValue

_SortKey = tuple[int, int, str]
_K = TypeVar("_K")


@dataclass(frozen=True, slots=True)
class LabReading:
    labs: dict[str, LabValue]
    notes: tuple[str, ...]


@dataclass(slots=True)
class _Choice:
    key: _SortKey
    candidate: Candidate  # built into a LabValue only if it stays the choice
    when: date | None
    observation: Resource


@dataclass(slots=True)
class _Tally:
    oldest: date
    newest: date
    dated: dict[str, _Choice] = field(default_factory=dict)
    undated: dict[str, _Choice] = field(default_factory=dict)
    too_old: dict[str, date] = field(default_factory=dict)
    # counts (plain dicts: a Counter costs more to create than this whole tally)
    status: dict[tuple[str, str], int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    future: dict[str, int] = field(default_factory=dict)

    def add(self, obs: Resource, candidate: Candidate, when: date | None, stamp: str) -> None:
        """Count one usable result; keep it if it is the best so far for its analyte."""
        analyte, rank = candidate[0], candidate[2]
        if when is None:
            _keep(self.undated, (0, -rank, ""), candidate, None, obs)
        elif when > self.newest:
            _count(self.future, analyte)
        elif when < self.oldest:
            if analyte not in self.too_old or when > self.too_old[analyte]:
                self.too_old[analyte] = when
        else:
            current = self.dated.get(analyte)
            # The key starts with the day: an earlier day never wins, so skip building its key.
            if current is None or current.when is None or when >= current.when:
                _keep(self.dated, (when.toordinal(), -rank, stamp), candidate, when, obs)


def read_labs(
    observations: Iterable[Resource],
    *,
    terminology: Terminology,
    as_of: date,
    max_age_days: int,
) -> LabReading:
    """The latest valid LabValue per analyte, and data notes. Never raises on bad content."""
    oldest = as_of - timedelta(days=max_age_days)
    newest = as_of + timedelta(days=1)  # a result "tomorrow" is a time-zone edge, not an error
    tally = _Tally(oldest, newest)
    days: dict[str, date | None] = {}  # parsed timestamps: the results of a panel share one
    for obs in observations:
        if obs.resourceType == "Observation":
            _read_one(obs, terminology, tally, days)
    return LabReading(_choose(tally), _notes(tally, max_age_days))


def _read_one(
    obs: Resource, terminology: Terminology, tally: _Tally, days: dict[str, date | None]
) -> None:
    status = obs.status
    if status not in VALID_STATUSES:
        found = lab_code(terminology, obs.code)
        if found is not None and status not in ("entered-in-error", "cancelled"):
            _count(tally.status, (found[0], str(status)[:20]))
        return
    candidates = read_candidates(obs, terminology)
    if not candidates:
        return
    when, stamp = observation_date(obs, days)
    for candidate in candidates:
        if isinstance(candidate, LabSkip):
            _count(tally.skipped, str(candidate))
        else:
            tally.add(obs, candidate, when, stamp)


def _count(counts: dict[_K, int], key: _K) -> None:
    counts[key] = counts.get(key, 0) + 1


def _keep(
    best: dict[str, _Choice],
    key: _SortKey,
    candidate: Candidate,
    when: date | None,
    obs: Resource,
) -> None:
    """Keep the candidate if it beats the current choice (on a tie, the first one stays)."""
    current = best.get(candidate[0])
    if current is None or key > current.key:
        best[candidate[0]] = _Choice(key, candidate, when, obs)


def _undated_usable(tally: _Tally, analyte: str) -> bool:
    """An undated result stands in only when the analyte has no dated result at all."""
    return analyte not in tally.dated and analyte not in tally.too_old


def _choose(tally: _Tally) -> dict[str, LabValue]:
    labs: dict[str, LabValue] = {}
    undated = [a for a in tally.undated if _undated_usable(tally, a)]
    for analyte in (*tally.dated, *undated):
        choice = tally.dated.get(analyte) or tally.undated[analyte]
        source_id = _reference_key(choice.observation)
        labs[analyte] = lab_value(choice.candidate, choice.when, source_id)
    return labs


def _reference_key(resource: Resource) -> str | None:
    """The resource's "Type/id" when it has a usable id, else None."""
    rid = resource.id.strip() if resource.id else ""
    return f"{resource.resourceType}/{rid}" if rid else None


def _notes(tally: _Tally, max_age_days: int) -> tuple[str, ...]:
    if not (tally.status or tally.skipped or tally.future or tally.undated or tally.too_old):
        return ()  # the usual case
    notes: list[str] = []
    for (analyte, status), count in sorted(tally.status.items()):
        notes.append(f"{count} {analyte} result(s) with status '{status}' were not used.")
    for reason, count in sorted(tally.skipped.items()):
        notes.append(f"{count} result(s) not used: {reason}.")
    for analyte, count in sorted(tally.future.items()):
        notes.append(f"{count} {analyte} result(s) dated in the future were not used.")
    for analyte in sorted(tally.undated):
        if _undated_usable(tally, analyte):
            notes.append(f"The {analyte} result has no date; used because no dated one was found.")
    for analyte, when in sorted(tally.too_old.items()):
        if analyte not in tally.dated:
            notes.append(
                f"The latest {analyte} result ({when.isoformat()}) is older than "
                f"{max_age_days} days and was not used."
            )
    return tuple(notes)
