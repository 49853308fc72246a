"""Start-up checks of the card content against the rules' CardSpecs (see catalog.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, get_args

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cds_service.cards.content import CardContentError, CardFile, CommonFile, OrderablesFile
from cds_service.cards.escape import one_line
from cds_service.cards.templates import sample_values, variables
from cds_service.clinical.lab_table import LABS
from cds_service.rules.types import BaclofenSchedule, CardSpec, Evidence, OrderableLab

if TYPE_CHECKING:
    from cds_service.cards.catalog import CardCatalog

LABEL_VARIABLES = frozenset({"schedule", "labs"})
SUMMARY_MAX = 139
LABEL_MAX = 120


def check_orderables(orderables: OrderablesFile) -> None:
    """Every lab and schedule the rules can name has codes (and is a lab of the lab table);
    every coding system is known."""
    labs, schedules = set(get_args(OrderableLab)), set(get_args(BaclofenSchedule))
    if not labs <= set(LABS):
        raise CardContentError(
            f"OrderableLab names {sorted(labs - set(LABS))}, not in the lab table (labs.yaml)"
        )
    if set(orderables.labs) != labs:
        raise CardContentError(f"_orderables.yaml: labs must be exactly {sorted(labs)}")
    if set(orderables.baclofen_schedules) != schedules:
        raise CardContentError(
            f"_orderables.yaml: baclofen_schedules must be exactly {sorted(schedules)}"
        )
    for name in ("loinc", "rxnorm", "ucum"):
        if name not in orderables.systems:
            raise CardContentError(f"_orderables.yaml: systems.{name} is required")
    for coding in orderables.cramp_reason.codings:
        if coding.system not in orderables.systems:
            raise CardContentError(f"_orderables.yaml: unknown system {coding.system!r}")


def check_card(
    key: str,
    name: str,
    card: CardFile,
    spec: CardSpec,
    common: CommonFile,
    envs: Mapping[str, ImmutableSandboxedEnvironment],
    orderables: OrderablesFile,
) -> None:
    """The card matches its spec and its templates read only values the rule provides."""
    where = f"{name}: {key}"
    if card.indicator != spec.indicator:
        raise CardContentError(
            f"{where}: indicator is {card.indicator!r} but rule {spec.rule_id} emits "
            f"{spec.indicator!r}"
        )
    if card.override_reasons not in common.override_reasons:
        raise CardContentError(f"{where}: unknown override_reasons set {card.override_reasons!r}")
    if set(card.suggestions) != set(spec.suggestions):
        raise CardContentError(
            f"{where}: suggestion labels must be given for exactly {sorted(spec.suggestions)}"
        )
    allowed = frozenset(spec.values)
    templates = [
        ("summary", "summary", card.summary, allowed),
        ("detail", "markdown", card.detail, allowed),
    ]
    templates += [
        (f"suggestions.{k}", "label", v, LABEL_VARIABLES) for k, v in card.suggestions.items()
    ]
    for field, env, source, names in templates:
        try:
            used = variables(envs[env], source)
        except TemplateError as exc:
            raise CardContentError(f"{where}: {field}: template error: {exc}") from None
        unknown = used - names
        if unknown:
            raise CardContentError(
                f"{where}: {field} uses {sorted(unknown)}, which rule {spec.rule_id} does not "
                f"provide (it provides {sorted(names)})"
            )


def check_renders(catalog: CardCatalog, specs: Mapping[str, CardSpec]) -> None:
    """Render every card with worst-case and minimal values; summaries must stay short."""
    labs = tuple(get_args(OrderableLab))
    lab_names = tuple(catalog.orderables.labs[lab].name for lab in labs)
    longest = max((s.summary for s in catalog.orderables.baclofen_schedules.values()), key=len)
    for key, spec in specs.items():
        card = catalog.card(key)
        for worst in (True, False):
            values = sample_values(spec.values, labs, worst=worst)
            finding = spec.finding(
                order=None, evidence=(Evidence("label", "value"),), values=values
            )
            try:
                summary = one_line(card.summary.render(**values))
                catalog.detail(finding, None)
                labels = [t.render(schedule=longest, labs=lab_names) for t in card.labels.values()]
            except (TemplateError, TypeError, ValueError, KeyError) as exc:
                raise CardContentError(f"{key}: does not render: {exc!r}") from None
            if not summary or len(summary) > SUMMARY_MAX:
                raise CardContentError(
                    f"{key}: summary is {len(summary)} characters with worst-case values "
                    f"(must be 1..{SUMMARY_MAX}): {summary!r}"
                )
            if any(not label or len(label) > LABEL_MAX for label in labels):
                raise CardContentError(f"{key}: a suggestion label is empty or too long")
    try:
        catalog.action_text("delete", drug="x" * 300)
        catalog.action_text("create_baclofen", schedule=longest)
        catalog.action_text("create_lab", lab=lab_names[0])
    except TemplateError as exc:
        raise CardContentError(f"_common.yaml: actions: {exc!r}") from None
