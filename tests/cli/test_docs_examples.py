"""Every `cds-service ...` example in docs/cli.md runs and exits as the page says.

Convention: a ```sh block whose first line starts with `cds-service ` is one command (a
trailing `\\` continues the line); `# exit code N` in the block is the expected exit code
(default 0). Blocks that start with anything else (a `# needs network` comment, a pipeline) are
illustrations and are not run, and `serve` is skipped because it does not return. An example
whose input file is not in the repository yet is skipped, naming the file, so it switches on
by itself when the file lands. Output files (`-o`) go to a temporary directory.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cds_service.cli import cli
from cds_service.store.db import init_schema, make_engine
from tests.conftest import ROOT

DOC = ROOT / "docs" / "cli.md"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
_EXIT = re.compile(r"#\s*exit code (\d+)")
_OUTPUT_OPTIONS = ("-o", "--out")


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    argv: tuple[str, ...]
    exit_code: int

    @property
    def id(self) -> str:
        return f"line{self.line}-{' '.join(self.argv)[:60]}"


def doc_examples() -> list[Example]:
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        body = match.group(1)
        if not body.startswith("cds-service "):
            continue
        commands = [line for line in body.replace("\\\n", " ").splitlines() if line.strip()]
        assert len(commands) == 1, f"docs/cli.md: one command per block, got {commands}"
        expected = _EXIT.search(body)
        found.append(
            Example(
                line=text.count("\n", 0, match.start()) + 1,
                argv=tuple(shlex.split(commands[0], comments=True)[1:]),
                exit_code=int(expected.group(1)) if expected else 0,
            )
        )
    return found


EXAMPLES = doc_examples()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run from the repository root with a fresh, empty store and authentication off."""
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path}/cds.db"
    engine = make_engine(url)
    init_schema(engine)
    engine.dispose()
    monkeypatch.setenv("CDS_DATABASE_URL", url)
    monkeypatch.setenv("CDS_AUTH_REQUIRED", "false")
    monkeypatch.chdir(ROOT)


def _prepare(argv: tuple[str, ...], out_dir: Path) -> list[str]:
    """Skip when an input file is not there yet; send output files to `out_dir`."""
    args = list(argv)
    for index, arg in enumerate(args):
        if index and args[index - 1] in _OUTPUT_OPTIONS:
            args[index] = str(out_dir / Path(arg).name)
        elif arg.startswith("fixtures/") and not (ROOT / arg).exists():
            pytest.skip(f"{arg} is not in the repository yet")
    return args


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_documented_example_runs(example: Example, tmp_path: Path) -> None:
    if example.argv[0] == "serve":
        pytest.skip("serve does not return")
    args = _prepare(example.argv, tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == example.exit_code, (
        f"docs/cli.md line {example.line}: exit {result.exit_code}, documented "
        f"{example.exit_code}\n{result.output}"
    )


def test_every_command_has_an_example() -> None:
    commands = set(typer.main.get_command(cli).commands)  # type: ignore[attr-defined]
    documented = {e.argv[0] for e in EXAMPLES}
    assert commands <= documented, f"undocumented in docs/cli.md: {commands - documented}"
    assert {"serve", "evaluate", "request", "check", "validate", "report"} <= documented
