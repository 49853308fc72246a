"""A newcomer's docs point only at things in the repository (issue 12, item 10): every relative
Markdown link resolves, no page refers to material outside the project (`../shared`, an
external checklist's sections), and no example writes into the repository root."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

_SKIP = {".venv", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache", "node_modules"}
PAGES = sorted(
    p for p in ROOT.rglob("*.md") if not _SKIP.intersection(p.relative_to(ROOT).parts)
)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_main_pages_are_checked() -> None:
    names = {_id(p) for p in PAGES}
    assert {"README.md", "SECURITY.md", "docs/sandbox.md", "docs/cli.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for match in _LINK.finditer(text):
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_no_reference_outside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text
    assert not re.search(r"checklist,? §", text), "cites sections of a document not in the repo"


def test_peers_are_named_where_they_are() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "[bench/PEERS.md](bench/PEERS.md)" in readme
    assert not re.search(r"(?<![/`\w])PEERS\.md", readme.replace("bench/PEERS.md", ""))


def test_cli_examples_write_outside_the_repository() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    outputs = re.findall(r"(?:-o|--out)\s+(\S+)", text)
    assert outputs, "docs/cli.md has examples with output files"
    assert all(o.startswith(("/tmp/", "OUT", "DIR")) for o in outputs), outputs


def test_a_benchmark_run_writes_no_tracked_file() -> None:
    """bench/run's default output is under bench/results/, which git ignores; only
    `--output bench/RESULTS.md` replaces the published table."""
    import runpy
    import sys

    saved = list(sys.path)  # bench.py puts bench/ first on sys.path for its own modules
    try:
        bench = runpy.run_path(str(ROOT / "bench" / "bench.py"), run_name="bench_under_test")
    finally:
        sys.path[:] = saved
    args = bench["parse_args"]([])
    assert args.output == ROOT / "bench" / "results" / "RESULTS.md"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "bench/results/" in ignored
    assert bench["parse_args"](["--output", "bench/RESULTS.md"]).output == Path("bench/RESULTS.md")
