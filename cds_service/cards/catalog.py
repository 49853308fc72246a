"""Card content, loaded and checked once at start-up and rendered on every hook call.

`CardCatalog.load()` reads `cards/` (shipped in the wheel as `cds_service/_content/cards`), and
refuses to start (CardContentError) unless every card the rules can emit has content, the
indicators match the rules, every template compiles and reads only values the rule provides,
every suggestion kind has a label, and every summary stays under 140 characters with
worst-case values. Templates are compiled here, once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateError
from markupsafe import Markup

from cds_service.cards import content as c
from cds_service.cards.checks import check_card, check_orderables, check_renders
from cds_service.cards.escape import plain
from cds_service.cards.templates import (
    LABEL_VALUE_LIMIT,
    LinkText,
    compile_template,
    make_env,
    render,
)
from cds_service.cdshooks.response import Coding, OverrideReason, Source
from cds_service.clinical.types import PatientFacts
from cds_service.rules import CARD_SPECS
from cds_service.rules.types import CardSpec, Finding

CardContentError = c.CardContentError
SUMMARY_MAX = 139  # CDS Hooks: summary under 140 characters


def default_location() -> Traversable:
    """The installed copy (package data) if present, else `cards/` next to the package."""
    packaged = resources.files("cds_service").joinpath("_content", "cards")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "cards"


@dataclass(frozen=True, slots=True)
class CompiledCard:
    key: str
    spec: CardSpec
    source: Source
    references: tuple[LinkText, ...]
    evidence_level: Markup
    source_label: Markup
    source_url: Markup
    override_reasons: tuple[OverrideReason, ...]
    summary: Template
    detail: Template
    labels: Mapping[str, Template]


class CardCatalog:
    """All card text and orderable codes, ready to render."""

    def __init__(
        self,
        cards: Mapping[str, CompiledCard],
        layout: Template,
        actions: Mapping[str, Template],
        orderables: c.OrderablesFile,
    ) -> None:
        self._cards = dict(cards)
        self._layout = layout
        self._actions = dict(actions)
        self.orderables = orderables
        # Texts built only from card content (never from patient data): rendered once each.
        self._suggestion_labels = functools.lru_cache(maxsize=1024)(self.label)
        self._static_action_texts = functools.lru_cache(maxsize=64)(self.action_text)

    @classmethod
    def load(
        cls, path: Path | Traversable | None = None, specs: Mapping[str, CardSpec] | None = None
    ) -> CardCatalog:
        """Read and check every card; raise CardContentError naming the file and the problem."""
        specs = CARD_SPECS if specs is None else specs
        root = path if path is not None else default_location()
        common = c.validate(c.CommonFile, _read(root, "_common.yaml"), "_common.yaml")
        orderables = c.validate(
            c.OrderablesFile, _read(root, "_orderables.yaml"), "_orderables.yaml"
        )
        check_orderables(orderables)
        lab_names = {lab_id: lab.name for lab_id, lab in orderables.labs.items()}
        envs = {
            "markdown": make_env("markdown", lab_names),
            "summary": make_env("plain", lab_names),
            "label": make_env("plain", lab_names, LABEL_VALUE_LIMIT),
        }
        files = _card_files(root)
        missing = sorted(set(specs) - set(files))
        unknown = sorted(set(files) - set(specs))
        if missing or unknown:
            raise CardContentError(
                f"cards/ does not match the rules: no content for {missing}; "
                f"content for cards no rule emits: {unknown}"
            )
        cards = {}
        for key, (name, card) in files.items():
            spec = specs[key]
            check_card(key, name, card, spec, common, envs, orderables)
            cards[key] = _compile(key, card, spec, common, envs)
        try:
            layout = compile_template(envs["markdown"], common.layout)
            actions = {
                k: compile_template(envs["label"], v)
                for k, v in common.actions.model_dump().items()
            }
        except TemplateError as exc:
            raise CardContentError(f"_common.yaml: template error: {exc}") from None
        catalog = cls(cards, layout, actions, orderables)
        catalog._check_renders(specs)
        return catalog

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._cards)

    def card(self, key: str) -> CompiledCard:
        return self._cards[key]

    def summary(self, finding: Finding) -> str:
        return plain(render(self.card(finding.card_key).summary, finding.values), SUMMARY_MAX)

    def detail(self, finding: Finding, facts: PatientFacts | None) -> str:
        card = self.card(finding.card_key)
        body = render(card.detail, finding.values)
        text = render(self._layout, dict(
            body=Markup(body),
            evidence=finding.evidence,
            data_notes=facts.data_notes if facts else (),
            evidence_level=card.evidence_level,
            source_label=card.source_label,
            source_url=card.source_url,
            references=card.references,
        ))
        return tidy_lines(text)

    def label(self, key: str, kind: str, **values: Any) -> str:
        return plain(render(self.card(key).labels[kind], values), 120)

    def suggestion_label(
        self, key: str, kind: str, schedule: str | None, labs: tuple[str, ...]
    ) -> str:
        """`label` with the only values a label may read (both from `cards/`): cached."""
        return self._suggestion_labels(key, kind, schedule=schedule, labs=labs)

    def action_text(self, name: str, **values: Any) -> str:
        return plain(render(self._actions[name], values), 200)

    def lab_action_text(self, lab_id: str) -> str:
        """`action_text("create_lab", ...)` for one orderable lab (cached)."""
        return self._static_action_texts("create_lab", lab=self.orderables.labs[lab_id].text)

    def baclofen_action_text(self, schedule_id: str) -> str:
        """`action_text("create_baclofen", ...)` for one schedule (cached)."""
        schedule = self.orderables.baclofen_schedules[schedule_id]
        return self._static_action_texts("create_baclofen", schedule=schedule.summary)

    def _check_renders(self, specs: Mapping[str, CardSpec]) -> None:
        check_renders(self, specs)


_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n\n\n+")  # = \n{3,}, but the literal prefix makes it ~5x faster


def tidy_lines(text: str) -> str:
    """No trailing spaces on a line, at most one blank line in a row, no outer whitespace.

    The substring tests skip a regex when it has nothing to do (the trailing-space one costs
    tens of microseconds on a card, as it tries every space in the text).
    """
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACE.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _read(root: Path | Traversable, name: str) -> Any:
    item = root.joinpath(name)
    if not item.is_file():
        raise CardContentError(f"{name}: missing from the card content directory {root}")
    return c.parse_yaml(item.read_text(encoding="utf-8"), name)


def _card_files(root: Path | Traversable) -> dict[str, tuple[str, c.CardFile]]:
    found: dict[str, tuple[str, c.CardFile]] = {}
    names = sorted(i.name for i in root.iterdir() if i.name.endswith((".yaml", ".yml")))
    for name in names:
        if name.startswith("_"):
            continue
        data = _read(root, name)
        if not isinstance(data, dict):
            raise CardContentError(f"{name}: expected a mapping of card keys to cards")
        for key, body in data.items():
            if key in found:
                raise CardContentError(f"{name}: card {key!r} is also defined in {found[key][0]}")
            found[str(key)] = (name, c.validate(c.CardFile, body, f"{name}: {key}"))
    return found


def _compile(
    key: str, card: c.CardFile, spec: CardSpec, common: c.CommonFile, envs: Mapping[str, Any]
) -> CompiledCard:
    reasons = tuple(
        OverrideReason(system=common.override_reason_system, code=r.code, display=r.display)
        for r in common.override_reasons[card.override_reasons]
    )
    topic = Coding(system=common.topic_system, code=card.topic.code, display=card.topic.display)
    return CompiledCard(
        key=key,
        spec=spec,
        source=Source(label=card.source.label, url=card.source.url, topic=topic),
        references=tuple(LinkText(Markup(r.label), Markup(r.url)) for r in card.references),
        evidence_level=Markup(" ".join(card.evidence.split())),
        source_label=Markup(card.source.label),
        source_url=Markup(card.source.url or ""),
        override_reasons=reasons,
        summary=compile_template(envs["summary"], card.summary),
        detail=compile_template(envs["markdown"], card.detail),
        labels={k: compile_template(envs["label"], v) for k, v in card.suggestions.items()},
    )
