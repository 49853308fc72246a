"""Jinja2 environments for card text: sandboxed, strict, and escaping every value they print.

Every `{{ ... }}` output passes through `finalize`, so a template cannot forget to escape:
in Markdown (detail) a value is Markdown- and HTML-escaped; in plain text (summary, labels,
action descriptions) it is put on one line and capped in length. Numbers, dates, booleans and
None get one consistent format. Content from `cards/` itself (sources, evidence line) is
wrapped in `Markup` by the catalog and printed as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from jinja2 import StrictUndefined, Template, meta
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from cds_service.cards.escape import escape_markdown_html, plain_value
from cds_service.rules.evidence import fmt
from cds_service.rules.types import Evidence, ValueKind

SUMMARY_VALUE_LIMIT = 40  # characters of one patient value inside a summary
LABEL_VALUE_LIMIT = 60  # inside a suggestion label or an action description


def num(value: object) -> str:
    """27.0 -> "27", 0.7 -> "0.7"; None -> "unknown". Markup: digits need no escaping."""
    if value is None or isinstance(value, bool):
        return Markup("unknown")
    if isinstance(value, int | float):
        return Markup(fmt(float(value)))
    return str(value)  # not a number: escaped like any other text


def day(value: object) -> str:
    """An ISO date (unambiguous in every locale); None -> "date unknown"."""
    if isinstance(value, date):
        return Markup(value.isoformat())
    return Markup("date unknown") if value is None else str(value)


def _text(value: object, escape: Callable[[str], str]) -> str:
    if type(value) is str:  # the usual case first (Markup is a subclass, not `str` itself)
        return escape(value)
    if isinstance(value, Markup):
        return str(value)
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return num(value)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, list | tuple):
        return ", ".join(_text(item, escape) for item in value)
    return escape(str(value))


@dataclass(frozen=True, slots=True)
class LinkText:
    """A reference link as the layout prints it (content from `cards/`, printed as written)."""

    label: Markup
    url: Markup


# Public fields of the value types the catalog itself passes to templates. Reading them is
# always allowed by the sandbox (not underscored, not internal, not a mutable container's
# method); the subclass below skips the sandbox's per-read checks for exactly these.
_SAFE_FIELDS: dict[type, frozenset[str]] = {
    Evidence: frozenset({"label", "value", "when", "source_id"}),
    LinkText: frozenset({"label", "url"}),
    LoopContext: frozenset({"first", "last", "index", "index0", "length"}),
}


class CardEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with a fast path for reading our own value types' fields."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        fields = _SAFE_FIELDS.get(type(obj))
        if fields is not None and attribute in fields:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)


def make_env(
    kind: str, lab_names: Mapping[str, str], limit: int = SUMMARY_VALUE_LIMIT
) -> ImmutableSandboxedEnvironment:
    """`kind` "markdown" (detail) or "plain" (summary, labels, descriptions)."""
    escape: Callable[[str], str]
    if kind == "markdown":
        escape = escape_markdown_html
    else:

        def escape(text: str) -> str:
            return plain_value(text, limit)

    def finalize(value: object) -> str:
        # Most printed values are plain strings: straight to the escape (as `_text` would).
        return escape(value) if type(value) is str else _text(value, escape)

    env = CardEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        finalize=finalize,
        # Keep the newline after a block tag: an `{% endif %}` at the end of a line must not
        # glue the next line onto it (Markdown needs its line breaks). Tag-only lines leave
        # blank lines, which the catalog collapses.
        trim_blocks=False,
        lstrip_blocks=True,
    )
    env.filters["num"] = num
    env.filters["day"] = day
    env.filters["lab"] = lambda lab_id: Markup(lab_names[lab_id])  # from _orderables.yaml
    return env


def compile_template(env: ImmutableSandboxedEnvironment, source: str) -> Template:
    """`env.from_string(source)`, with the template's globals flattened into a plain dict.

    Jinja keeps them as a ChainMap over the environment's globals, which every render copies
    twice in pure Python (a few microseconds per render). The globals never change after
    start-up, so a dict with the same items reads the same.
    """
    template = env.from_string(source)
    template.globals = dict(template.globals)
    return template


def render(template: Template, values: Mapping[str, Any]) -> str:
    """`template.render(**values)` without its two copies of `values` (Template.render copies
    the keywords, then new_context copies them again over the globals): the same text, and
    the same template-aware traceback on an error."""
    try:
        context = template.new_context(values)  # type: ignore[arg-type]  # copied: any mapping
        return "".join(template.root_render_func(context))
    except Exception:
        return template.environment.handle_exception()


def variables(env: ImmutableSandboxedEnvironment, source: str) -> set[str]:
    """The names a template reads from its context."""
    return set(meta.find_undeclared_variables(env.parse(source)))


LONG_TEXT = "W" * 200


def sample_values(
    kinds: Mapping[str, ValueKind], lab_ids: tuple[str, ...], *, worst: bool
) -> dict[str, Any]:
    """Values for a load-time test render: `worst` is longest/all-present, else minimal."""
    samples: dict[ValueKind, tuple[object, object]] = {
        "text": (LONG_TEXT, "x"),
        "text?": (LONG_TEXT, None),
        "number": (99999.99, 0),
        "number?": (99999.99, None),
        "date?": (date(2099, 12, 31), None),
        "flag": (True, False),
        "texts": ((LONG_TEXT,) * 5, ()),
        "labs": (lab_ids, lab_ids[:1]),
    }
    return {name: samples[kind][0 if worst else 1] for name, kind in kinds.items()}
