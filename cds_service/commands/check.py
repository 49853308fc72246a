"""`cds-service check`: run the scenario table and say, per scenario, pass or fail and why.

For clinical reviewers and CI: each scenario (fixtures/scenarios/README.md) goes through the
real pipeline in-process with its own evaluation date, and its answer is compared with the
expected cards. Exit code 1 when any scenario fails (including an `xfail` one that now passes,
and a file that does not load), else 0.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cds_service.tools.runner import ScenarioResult, run_in_process
from cds_service.tools.scenarios import LoadError, load_scenarios

_STYLES = {"pass": "green", "fail": "bold red", "xfail": "yellow", "xpass": "bold red",
           "error": "bold red"}  # fmt: skip


def check(
    paths: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            metavar="DIR_OR_FILES...",
            help="Scenario files (YAML) or directories of them, e.g. fixtures/scenarios.",
        ),
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    name: Annotated[
        list[str] | None,
        typer.Option("--name", "-k", help="Only scenarios whose name contains this (repeatable)."),
    ] = None,
) -> None:
    """Run scenario files through the pipeline; print pass/fail with reasons (exit 1 on failure)."""
    from cds_service.cli import settings_or_exit

    settings = settings_or_exit()
    scenarios, errors = load_scenarios(paths)
    if name:
        scenarios = [s for s in scenarios if any(n in s.name for n in name)]
    results = run_in_process(scenarios, settings)
    if json_output:
        typer.echo(json.dumps(report_json(results, errors), indent=2))
    else:
        print_report(results, errors)
    if errors or any(r.failed for r in results):
        raise typer.Exit(1)


def report_json(results: list[ScenarioResult], errors: list[LoadError]) -> dict[str, Any]:
    counts = Counter(r.verdict for r in results)
    return {
        "ok": not errors and not any(r.failed for r in results),
        "counts": {v: counts.get(v, 0) for v in ("pass", "fail", "xfail", "xpass", "error")},
        "loadErrors": [{"file": str(e.file), "message": e.message} for e in errors],
        "scenarios": [
            {
                "name": r.name,
                "file": str(r.file) if r.file else None,
                "hook": r.hook,
                "verdict": r.verdict,
                "status": r.status,
                "cards": [
                    {"rule": c.rule_id, "card": c.card_key, "indicator": c.indicator}
                    for c in r.cards
                ],
                "reasons": list(r.reasons),
            }
            for r in results
        ],
    }


def print_report(results: list[ScenarioResult], errors: list[LoadError]) -> None:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 200
    table = Table(title="Scenario table", show_lines=False)
    table.add_column("Scenario", overflow="fold")
    table.add_column("Hook")
    table.add_column("Result")
    table.add_column("Cards", overflow="fold")
    table.add_column("Reasons", overflow="fold")
    for r in results:
        cards = ", ".join(c.label() for c in r.cards) or (
            f"HTTP {r.status}" if r.status and r.status != 200 else "-"
        )
        reasons = "\n".join(r.reasons) if r.verdict != "pass" else ""
        table.add_row(
            Text(r.name), r.hook, Text(r.verdict.upper(), style=_STYLES[r.verdict]),
            Text(cards), Text(reasons),
        )  # fmt: skip
    console.print(table)
    for error in errors:
        console.print(Text(f"LOAD ERROR {error.file}: {error.message}", style="bold red"))
    counts = Counter(r.verdict for r in results)
    summary = ", ".join(f"{counts[v]} {v}" for v in ("pass", "fail", "xfail", "xpass", "error"))
    console.print(f"{len(results)} scenarios: {summary}; {len(errors)} file(s) not loaded")
