"""The site file: validated completely at start-up, cut-offs only within safe bounds, one
line naming the problem when it is wrong."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cds_service.app import build_engine
from cds_service.cli import cli
from cds_service.governance.site import (
    BUDGET,
    LAB_WINDOW,
    SAFE_BOUNDS,
    SiteConfigError,
    load_site,
    site_for,
)
from cds_service.rules.types import Thresholds
from cds_service.settings import Settings
from tests.conftest import ROOT

GOOD = """
[rules]
"quinine-for-cramps" = "silent"
"cramp-workup" = { "patient-view" = "on", "order-select" = "off", "order-sign" = "silent" }

[labs]
max_age_days = 180

[thresholds]
egfr_severe = 40
hypokalemia_mmol_per_l = 3.6
older_adult_age = 60

[budget]
"patient-view" = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def test_a_site_file_sets_modes_per_hook_lab_window_cut_offs_and_budget(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, GOOD))
    assert site.mode("quinine-for-cramps", "order-sign") == "silent"
    assert [site.mode("cramp-workup", h) for h in ("patient-view", "order-select", "order-sign")] \
        == ["on", "off", "silent"]
    assert site.mode("baclofen-dose", "order-sign") == "on", "unlisted rules stay on"
    assert site.lab_max_age_days == 180 and site.budget == {"patient-view": 2}
    cut_offs = site.cut_offs(Thresholds())
    assert (cut_offs.egfr_severe, cut_offs.hypokalemia_mmol_per_l, cut_offs.older_adult_age) \
        == (40, 3.6, 60)
    assert isinstance(cut_offs.older_adult_age, int)

    engine = build_engine(Settings(site_file=write(tmp_path, GOOD)))
    assert engine.config.thresholds == cut_offs and engine.config.lab_max_age_days == 180
    assert engine.config.site == site


def test_the_shipped_example_site_file_is_valid() -> None:
    site = load_site(ROOT / "docs" / "site.example.toml")
    assert site.changes()


@pytest.mark.parametrize(("text", "says"), [
    ('[rules]\n"quinine-for-cramp" = "off"\n', "no rule 'quinine-for-cramp' (did you mean "
     "'quinine-for-cramps'?)"),
    ('[rules]\n"cramp-workup" = "loud"\n', "rules: cramp-workup: 'loud' is not a mode (on, off, "
     "silent)"),
    ('[rules]\n"cramp-workup" = { "chart-view" = "off" }\n', "rules: cramp-workup: no hook "
     "'chart-view'"),
    ("[labs]\nmax_age_days = 3650\n", "labs.max_age_days = 3650 is outside its safe bounds "
     "30-730 days"),
    ("[labs]\nmax_age_day = 30\n", "labs.max_age_day"),
    ("[thresholds]\negfr_severe = 20\n", "thresholds.egfr_severe = 20 is outside its safe bounds "
     "30-45"),
    ("[thresholds]\negfr_moderate = 45\n", "outside its safe bounds 60-90"),
    ("[thresholds]\nhypomagnesemia = 0.7\n", "no such cut-off (did you mean "
     "'hypomagnesemia_mmol_per_l'?)"),
    ("[thresholds]\nolder_adult_age = 62.5\n", "must be a whole number"),
    ('[budget]\n"patient-view" = 0\n', "budget.patient-view = 0 is outside"),
    ("[alerts]\nmax = 1\n", "alerts"),
    ("[rules\n", "not valid TOML"),
])
def test_a_bad_site_file_is_refused_naming_the_setting(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(SiteConfigError) as refused:
        load_site(write(tmp_path, text))
    assert says in str(refused.value) and "site.toml" in str(refused.value)


def test_a_missing_site_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match="cannot read"):
        load_site(tmp_path / "nowhere.toml")


def test_a_value_is_set_in_one_place(tmp_path: Path) -> None:
    path = write(tmp_path, "[labs]\nmax_age_days = 180\n")
    with pytest.raises(SiteConfigError, match="also set by CDS_LAB_MAX_AGE_DAYS"):
        site_for(Settings(site_file=path, lab_max_age_days=200))
    assert site_for(Settings(site_file=path)).lab_max_age_days == 180


def test_every_cut_off_has_safe_bounds_around_its_default() -> None:
    """A new cut-off in rules/types.py Thresholds fails here until it has bounds and evidence."""
    for name, default in dataclasses.asdict(Thresholds()).items():
        assert name in SAFE_BOUNDS, f"Thresholds.{name} has no safe bounds (governance/site.py)"
        bound = SAFE_BOUNDS[name]
        assert bound.low <= default <= bound.high and bound.why and bound.unit
    assert set(SAFE_BOUNDS) == set(dataclasses.asdict(Thresholds()))
    assert LAB_WINDOW.low <= 365 <= LAB_WINDOW.high and BUDGET.low >= 1


def test_every_command_refuses_a_bad_site_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_SITE_FILE", str(write(tmp_path, "[thresholds]\negfr_severe = 5\n")))
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path}/cds.db")
    for args in (["serve"], ["evaluate", "fixtures/requests/quinine-order-select.json"],
                 ["check", "fixtures/scenarios"]):
        monkeypatch.chdir(ROOT)
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("Invalid configuration: CDS_SITE_FILE: ")
        assert "egfr_severe = 5 is outside" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cds.db").exists()
