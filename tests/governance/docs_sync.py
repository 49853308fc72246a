"""The generated parts of docs/cards.md (source attributes) and docs/governance.md (site file
settings); `--write` refreshes them:

    .venv/bin/python -m tests.governance.docs_sync --write
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from cds_service.app import default_catalog
from cds_service.governance.attributes import attributes_markdown, source_attributes
from cds_service.governance.site import settings_markdown
from tests.conftest import ROOT

BLOCKS: dict[Path, tuple[str, Callable[[], str]]] = {
    ROOT / "docs" / "cards.md": (
        "attributes", lambda: attributes_markdown(source_attributes(default_catalog()))
    ),
    ROOT / "docs" / "governance.md": ("site-settings", settings_markdown),
}


def refresh(path: Path, page: str) -> str:
    marker, generate = BLOCKS[path]
    block = re.compile(rf"(<!-- {marker} -->\n)(?:.*?\n)?(<!-- /{marker} -->)", re.S)
    assert block.search(page), f"{path.name} has no <!-- {marker} --> block"
    return block.sub(lambda m: m.group(1) + generate() + "\n" + m.group(2), page)


if __name__ == "__main__":
    if "--write" in sys.argv:
        for doc in BLOCKS:
            doc.write_text(refresh(doc, doc.read_text(encoding="utf-8")), encoding="utf-8")
