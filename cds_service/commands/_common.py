"""Small helpers the tool commands share (settings, console, JSON paths)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from cds_service.settings import Settings


def settings_or_exit() -> Settings:
    """cli.py's validated settings (exit 2 naming the bad CDS_* variable).

    Imported at call time: cli.py imports the command modules, so a module-level import here
    would be circular.
    """
    from cds_service.cli import settings_or_exit as load

    return load()


def console() -> Console:
    """A console on stdout; piped output gets a wide page instead of 80 wrapped columns."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = 160
    return out


def json_path(loc: Sequence[int | str]) -> str:
    """`("entry", 3, "resource", "value")` -> `entry[3].resource.value`, as FHIR people read it."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(root)"
