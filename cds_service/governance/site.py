"""The site file (`CDS_SITE_FILE`, TOML): what a pharmacy and therapeutics committee tunes.

    [rules]                                   # each rule on, off or silent; per hook if needed
    "baclofen-dose" = "silent"                # evaluated and audited, never shown
    "cramp-workup" = { "patient-view" = "on", "order-select" = "off", "order-sign" = "off" }

    [labs]
    max_age_days = 365                        # older results are ignored

    [thresholds]                              # design-choice cut-offs, within SAFE_BOUNDS
    egfr_severe = 30
    hypomagnesemia_mmol_per_l = 0.70

    [budget]                                  # most cards one call shows, per hook
    "patient-view" = 3

Checked completely at start-up (an unknown rule, hook, mode, key or a value outside its safe
bounds stops the service with one line naming it). Modes are applied by the pipeline after the
rules have run, never inside them. Every setting, its default and the evidence behind the
default: docs/governance.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cds_service.cdshooks.hooks import HookName
from cds_service.rules import RULE_IDS
from cds_service.rules.types import Thresholds
from cds_service.settings import Settings

Mode = Literal["on", "off", "silent"]
HOOKS: tuple[HookName, ...] = get_args(HookName)
MAX_SITE_FILE_BYTES = 200_000


class SiteConfigError(ValueError):
    """The site file is unusable; the message names the file and the setting."""


@dataclass(frozen=True, slots=True)
class Bound:
    """The values a site may choose for a cut-off, and why these and not others."""

    low: float
    high: float
    unit: str
    why: str  # the evidence for the default and for the bounds


# Every Thresholds field, with the range a site may set it to; a field whose bounds are one
# value is fixed (not a design choice a site should move). A new cut-off must be entered here
# before the tests pass, so each one is decided on purpose.
SAFE_BOUNDS: Mapping[str, Bound] = {
    "hypomagnesemia_mmol_per_l": Bound(
        0.60, 0.85, "mmol/L",
        "Default 0.70 mmol/L (1.7 mg/dL), the most common definition. Published definitions "
        "span 0.60 (StatPearls) to 0.85 mmol/L (Costello et al., Adv Nutr 2016); a site may "
        "choose within that span.",
    ),
    "hypermagnesemia_mmol_per_l": Bound(
        0.95, 1.07, "mmol/L",
        "Default 1.07 mmol/L (2.6 mg/dL), the common definition; some handbooks use 2.3-2.5 "
        "mg/dL. A site may only call a level high earlier (down to 0.95 mmol/L, 2.3 mg/dL), "
        "never later: above it magnesium is held.",
    ),
    "magnesium_therapeutic_max_mmol_per_l": Bound(
        2.5, 3.5, "mmol/L",
        "Default 3.5 mmol/L (8.4 mg/dL, 7 mEq/L), the top of the commonly quoted 4-7 mEq/L "
        "range for IV magnesium in pre-eclampsia or torsades (a design choice). A site may "
        "only lower it (to 2.5 mmol/L, 5 mEq/L), never raise it.",
    ),
    "hypokalemia_mmol_per_l": Bound(
        3.3, 3.6, "mmol/L",
        "Default 3.5 mmol/L (StatPearls NBK482465: mild hypokalaemia 3.0-3.4). Bounds are a "
        "design choice, as laboratory lower limits vary a little: 3.3 to 3.6; lower would "
        "call mild hypokalaemia normal.",
    ),
    "hyperkalemia_mmol_per_l": Bound(
        4.5, 5.0, "mmol/L",
        "Default 5.0 mmol/L (KDIGO Controversies 2020 grades risk from 5.0 or the upper limit "
        "of normal; a design choice). A site may only call a level high earlier (down to 4.5), "
        "never later: above it potassium is held.",
    ),
    "hypocalcemia_mmol_per_l": Bound(
        2.12, 2.12, "mmol/L", "Fixed: total calcium 8.5 mg/dL, a common lower limit.",
    ),
    "hypocalcemia_ionized_mmol_per_l": Bound(
        1.12, 1.12, "mmol/L", "Fixed: a common lower limit of ionized calcium.",
    ),
    "ck_upper_u_per_l": Bound(
        200, 200, "U/L", "Fixed: a typical adult upper limit, used when the lab gives none.",
    ),
    "tsh_lower_miu_per_l": Bound(
        0.4, 0.4, "mIU/L", "Fixed: the lower end of the typical adult reference interval.",
    ),
    "tsh_upper_miu_per_l": Bound(
        4.5, 4.5, "mIU/L", "Fixed: the upper end of the typical adult reference interval.",
    ),
    "severe_hypokalemia_mmol_per_l": Bound(
        3.0, 3.0, "mmol/L", "Fixed: StatPearls NBK482465, moderate to severe below 3.0.",
    ),
    "severe_hypomagnesemia_mmol_per_l": Bound(
        0.494, 0.494, "mmol/L", "Fixed: severe hypomagnesaemia below 1.2 mg/dL (0.494 mmol/L).",
    ),
    "ck_myopathy_multiple": Bound(
        10, 10, "x upper limit",
        "Fixed: CK above 10 times the upper limit with symptoms is myopathy (AHA/ACC 2018, "
        "EAS 2015).",
    ),
    "egfr_severe": Bound(
        30, 45, "mL/min/1.73m2",
        "Default 30: KDIGO G4-G5 begins below 30, and the magnesium and potassium cards warn "
        "below it (a design choice; Wakai et al. 2019 found hypermagnesaemia risk from eGFR "
        "55). A site may only warn earlier (up to 45, the start of G3b), never later.",
    ),
    "egfr_moderate": Bound(
        60, 90, "mL/min/1.73m2",
        "Default 60: KDIGO G3a begins below 60, and AGS Beers 2023 advises avoiding baclofen "
        "in older adults with eGFR below 60. A site may only caution earlier (up to 90, "
        "KDIGO G2), never later than Beers.",
    ),
    "older_adult_age": Bound(
        60, 65, "years",
        "Default 65: AGS Beers 2023 applies from 65. A site may apply the older-adult cautions "
        "from an earlier age (60), never a later one.",
    ),
}
LAB_WINDOW = Bound(
    30, 730, "days",
    "Default 365 days (CDS_LAB_MAX_AGE_DAYS), a design choice: a potassium, magnesium or "
    "kidney result older than a year says little about today. A site may shorten it (to 30 "
    "days) or lengthen it to two years; an older result would be shown as if current.",
)
BUDGET = Bound(
    1, 100, "cards",
    "Default: no site limit; the rules' own alert budget (one card per order, at most three "
    "when a chart opens, one patient-level card in order hooks) and CDS_MAX_CARDS (10) apply. "
    "Interruptive alerts are overridden 49-96% of the time (van der Sijs et al., JAMIA 2006), "
    "so a site may show fewer still, never more. A critical card is never left out.",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Labs(_Section):
    max_age_days: int | None = None


class _SiteFile(_Section):
    rules: dict[str, dict[str, Mode]] = Field(default_factory=dict)  # rule -> hook -> mode
    labs: _Labs = Field(default_factory=_Labs)
    thresholds: dict[str, float] = Field(default_factory=dict)
    budget: dict[HookName, int] = Field(default_factory=dict)

    @field_validator("rules", mode="before")
    @classmethod
    def _rules(cls, value: object) -> object:
        """`rule = "mode"` or `rule = { hook = "mode", ... }`, every name checked."""
        if not isinstance(value, dict):
            return value
        modes = get_args(Mode)
        normalised: dict[str, dict[str, object]] = {}
        for rule, setting in value.items():
            if rule not in RULE_IDS:
                close = difflib.get_close_matches(rule, RULE_IDS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"no rule {rule!r}{hint}; rules: {', '.join(RULE_IDS)}")
            per_hook: dict[object, object] = (
                setting if isinstance(setting, dict) else dict.fromkeys(HOOKS, setting)
            )
            for hook, mode in per_hook.items():
                if hook not in HOOKS:
                    raise ValueError(f"{rule}: no hook {hook!r} ({', '.join(HOOKS)})")
                if mode not in modes:
                    raise ValueError(f"{rule}: {mode!r} is not a mode ({', '.join(modes)})")
            normalised[rule] = {hook: per_hook.get(hook, "on") for hook in HOOKS}
        return normalised


@dataclass(frozen=True, slots=True)
class Site:
    """The site's choices, validated; the empty Site is the shipped defaults."""

    modes: Mapping[tuple[str, str], Mode] = field(default_factory=dict)  # (rule, hook)
    lab_max_age_days: int | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    budget: Mapping[str, int] = field(default_factory=dict)  # hook -> most cards
    path: Path | None = None

    def mode(self, rule_id: str, hook: str) -> Mode:
        return self.modes.get((rule_id, hook), "on")

    def cut_offs(self, base: Thresholds) -> Thresholds:
        """`base` with the site's cut-offs in place."""
        return dataclasses.replace(base, **self.thresholds)  # type: ignore[arg-type]

    def changes(self) -> list[str]:
        """What differs from the shipped defaults, one phrase each (for the start-up log)."""
        notes = [f"{rule} {mode} on {hook}" for (rule, hook), mode in sorted(self.modes.items())
                 if mode != "on"]
        if self.lab_max_age_days is not None:
            notes.append(f"lab window {self.lab_max_age_days} days")
        notes += [f"{name} = {value:g}" for name, value in sorted(self.thresholds.items())]
        notes += [f"at most {n} cards on {hook}" for hook, n in sorted(self.budget.items())]
        return notes


def site_for(settings: Settings) -> Site:
    """The site file `CDS_SITE_FILE` names (the shipped defaults without one). A value the
    site file sets may not also be set by its own CDS_* variable: one place for each."""
    if settings.site_file is None:
        return Site()
    site = load_site(settings.site_file)
    both = [
        (f"CDS_{name.upper()}", where)
        for name, where, chosen in (
            ("lab_max_age_days", "labs.max_age_days", site.lab_max_age_days is not None),
            ("hypomagnesemia_mmol_per_l", "thresholds.hypomagnesemia_mmol_per_l",
             "hypomagnesemia_mmol_per_l" in site.thresholds),
        )
        if chosen and name in settings.model_fields_set
    ]
    if both:
        variable, where = both[0]
        raise SiteConfigError(
            f"{site.path}: {where} is also set by {variable}: set it in one place"
        )
    return site


def load_site(path: Path | str) -> Site:
    """Read and check a site file; `SiteConfigError` names the file and the problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()[: MAX_SITE_FILE_BYTES + 1]
    except OSError as exc:
        raise SiteConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_SITE_FILE_BYTES:
        raise SiteConfigError(f"{path}: larger than {MAX_SITE_FILE_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SiteConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        parsed = _SiteFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in error["loc"]) or "(file)"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SiteConfigError(f"{path}: {where}: {message}") from None
    return Site(
        modes=_modes(parsed.rules),
        lab_max_age_days=_whole(path, "labs.max_age_days", parsed.labs.max_age_days, LAB_WINDOW),
        thresholds=_thresholds(path, parsed.thresholds),
        budget={hook: _whole(path, f"budget.{hook}", n, BUDGET) or 0
                for hook, n in parsed.budget.items()},
        path=path,
    )


def _modes(rules: Mapping[str, Mapping[str, Mode]]) -> dict[tuple[str, str], Mode]:
    return {(rule, hook): mode for rule, hooks in rules.items() for hook, mode in hooks.items()}


def _thresholds(path: Path, values: Mapping[str, float]) -> dict[str, float]:
    known = {f.name for f in dataclasses.fields(Thresholds)}
    checked: dict[str, float] = {}
    for name, value in values.items():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SiteConfigError(f"{path}: thresholds.{name}: no such cut-off{hint}")
        bound = SAFE_BOUNDS.get(name)
        if bound is None or bound.low == bound.high:
            why = f" ({bound.why})" if bound else ""
            raise SiteConfigError(f"{path}: thresholds.{name}: not settable by a site{why}")
        where = f"thresholds.{name}"
        if isinstance(getattr(Thresholds(), name), int):
            checked[name] = _whole(path, where, value, bound) or 0
        else:
            checked[name] = _within(path, where, value, bound) or 0.0
    merged = dataclasses.replace(Thresholds(), **checked)  # type: ignore[arg-type]
    if not merged.egfr_severe < merged.egfr_moderate:
        raise SiteConfigError(f"{path}: thresholds: egfr_severe must be below egfr_moderate")
    return checked


def _within(path: Path, where: str, value: float | None, bound: Bound) -> float | None:
    if value is None:
        return None
    if not bound.low <= value <= bound.high:
        raise SiteConfigError(
            f"{path}: {where} = {value:g} is outside its safe bounds "
            f"{bound.low:g}-{bound.high:g} {bound.unit}"
        )
    return value


def _whole(path: Path, where: str, value: float | None, bound: Bound) -> int | None:
    if value is not None and not float(value).is_integer():
        raise SiteConfigError(f"{path}: {where} must be a whole number")
    within = _within(path, where, value, bound)
    return None if within is None else int(within)


def settings_markdown() -> str:
    """The table of docs/governance.md (between its `<!-- site-settings -->` markers)."""
    defaults = dataclasses.asdict(Thresholds())
    rows = [
        ("`[labs] max_age_days`", "365", LAB_WINDOW),
        ('`[budget] "<hook>"`', "none", BUDGET),
        *((f"`[thresholds] {name}`", f"{defaults[name]:g}", bound)
          for name, bound in SAFE_BOUNDS.items()),
    ]
    lines = ["| Setting | Default | Safe bounds | Why this default, and these bounds |",
             "|---|---|---|---|"]
    lines += [
        f"| {setting} | {default} | "
        f"{'fixed' if b.low == b.high else f'{b.low:g}-{b.high:g} {b.unit}'} | {b.why} |"
        for setting, default, b in rows
    ]
    return "\n".join(lines)
