"""bench/alert_budget.py: its arithmetic, a repeatable population, and every chart opening
cleanly through the pipeline (the numbers themselves are measured by running it, not here)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from datetime import date
from types import ModuleType

from tests.conftest import ROOT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("alert_budget", ROOT / "bench" / "alert_budget.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["alert_budget"] = module
    spec.loader.exec_module(module)
    return module


budget = _load()


def test_words_stop_at_the_data_section() -> None:
    detail = "Hold the potassium: K 5.8 mmol/L.\n\n**Data used for this patient**\n\n- K: 5.8"
    assert budget.words_before_data(detail) == 6
    assert budget.words_before_data("Two words.\n\n**Strength of evidence:** B") == 2
    assert budget.words_before_data("- a list - of three") == 4  # bullets are not words


def test_nearest_rank_percentile() -> None:
    assert budget.percentile([0] * 19 + [5], 0.95) == 0
    assert budget.percentile(list(range(1, 21)), 0.95) == 19
    assert budget.percentile([], 0.95) == 0


def test_generated_population_is_repeatable_and_varied() -> None:
    first = budget.generated_charts(200, 7, date(2026, 12, 1))
    again = budget.generated_charts(200, 7, date(2026, 12, 1))
    assert [c.resources for c in first] == [c.resources for c in again]
    kinds = {r["resourceType"] for c in first for r in c.resources}
    assert kinds == {"Patient", "Observation", "Condition", "MedicationRequest"}
    ages = [2026 - int(r["birthDate"][:4]) for c in first for r in c.resources
            if r["resourceType"] == "Patient"]  # fmt: skip
    assert min(ages) < 18 and max(ages) >= 80


def test_every_chart_opens_and_is_summarized() -> None:
    charts = budget.real_charts() + budget.generated_charts(60, 3, date(2026, 12, 1))
    assert len([c for c in charts if c.real]) == 9
    opened = asyncio.run(budget.open_charts(charts))
    summary = budget.summarize(opened)
    assert summary["errors"] == [] and summary["charts"] == len(charts)
    assert sum(summary["cards_per_chart"]["histogram"].values()) == len(charts)
    assert set(summary["targets"].values()) <= {True, False}
