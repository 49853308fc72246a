"""Reading codes.json, groups.yaml and labs.yaml safely: typed accessors and the list selectors.

Every check raises TerminologyError naming the place in groups.yaml or codes.json, so a bad
data change stops start-up with a message instead of silently changing which drugs a card
fires on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from cds_service.clinical.text import words

BRACKET = re.compile(r"\[([^\]]+)\]\s*$")


class TerminologyError(ValueError):
    """The terminology data files are missing, malformed or inconsistent."""


def need(condition: bool, where: str, problem: str, file: str = "groups.yaml") -> None:
    if not condition:
        raise TerminologyError(f"{file} {where}: {problem}")


def code_of(entry: dict[str, Any], where: str) -> str | None:
    """An entry's code; None for the UNVERIFIED placeholders (code null), which are skipped."""
    code = entry.get("code")
    if code is None:
        return None
    if not isinstance(code, str) or not code.strip():
        raise TerminologyError(f"codes.json {where}: code {code!r} is not a non-empty string")
    return code.strip()


def mapping(
    value: object, where: str, problem: str = "must be a mapping", file: str = "groups.yaml"
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TerminologyError(f"{file} {where}: {problem}")
    return value


def listing(
    value: object, where: str, problem: str = "must be a list", file: str = "groups.yaml"
) -> list[Any]:
    if not isinstance(value, list):
        raise TerminologyError(f"{file} {where}: {problem}")
    return value


def str_list(value: object, where: str, file: str = "groups.yaml") -> list[str]:
    value = listing(value, where, file=file)
    for item in value:
        ok = isinstance(item, str) and bool(item.strip())
        need(ok, where, f"{item!r} is not a string", file)
    return [item.strip() for item in value]


Filter = Callable[[dict[str, Any], set[Any], list[str]], bool]
_SELECTOR_KEYS = frozenset({"kind", "routes", "codes", "exclude", "with_ingredient"})


def entry_filter(selector: object, where: str, field_name: str) -> Filter:
    """A predicate on (entry, its routes, its RxNorm product names) from {kind, routes,
    with_ingredient} (codes are checked by `select`). A product's names are its own display;
    a brand's are those of its SBDs "... [Brand]"."""
    if not isinstance(selector, dict):
        return lambda entry, routes, names: True
    here = f"{where}.{field_name}"
    unknown = sorted(set(selector) - _SELECTOR_KEYS)
    need(not unknown, here, f"unknown keys {unknown}")
    kind = selector.get("kind", "any")
    need(kind in ("any", "single", "multi"), here, f"bad kind {kind!r}")
    wanted = set(str_list(selector["routes"], where)) if "routes" in selector else None
    ingredients = (
        [f" {' '.join(words(n))} " for n in str_list(selector["with_ingredient"], here)]
        if "with_ingredient" in selector
        else None
    )

    def accept(entry: dict[str, Any], routes: set[Any], names: list[str]) -> bool:
        single = not entry.get("multi_ingredient") or bool(entry.get("potassium_salts_only"))
        if kind != "any" and single != (kind == "single"):
            return False
        if ingredients is not None and not any(_names_any(n, ingredients) for n in names):
            return False
        return wanted is None or (bool(routes) and routes <= wanted)

    return accept


def _names_any(name: str, phrases: list[str]) -> bool:
    """Whether a product name contains one of the phrases (" losartan ") as whole words:
    "hydrochlorothiazide 12.5 MG / losartan potassium 50 MG Oral Tablet" does."""
    padded = _padded_words(name)
    return any(phrase in padded for phrase in phrases)


@functools.lru_cache(maxsize=8192)  # start-up only: several groups read the same sections
def _padded_words(name: str) -> str:
    return f" {' '.join(words(name))} "


def select(
    entries: object,
    selector: object,
    where: str,
    field_name: str,
    accept: Callable[[dict[str, Any]], bool],
) -> list[dict[str, Any]]:
    """The entries of a codes.json list a selector picks (none when the selector is absent)."""
    if selector is None:
        return []
    # Entries with a null code are UNVERIFIED placeholders, kept in the data to say so: skipped
    # entirely (neither their code nor their name is used).
    items = (
        [e for e in entries if isinstance(e, dict) and e.get("code") is not None]
        if isinstance(entries, list)
        else []
    )
    here = f"{where}.{field_name}"
    need(selector == "all" or isinstance(selector, dict), here, "must be 'all' or a mapping")
    codes = selector.get("codes") if isinstance(selector, dict) else None
    excluded = str_list(selector.get("exclude", []), here) if isinstance(selector, dict) else []
    if codes is None and not excluded:
        return [e for e in items if accept(e)]
    by_code = {code_of(e, here): e for e in items}
    listed = None if codes is None else str_list(codes, here)
    missing = [c for c in [*(listed or []), *excluded] if c not in by_code]
    need(not missing, here, f"codes not in the code data: {missing}")
    chosen = items if listed is None else [by_code[c] for c in listed]
    return [e for e in chosen if e["code"].strip() not in excluded and accept(e)]


def brand_routes(section: dict[str, Any]) -> dict[str, set[str]]:
    """Brand name -> the routes of the section's SBDs named "... [Brand]"."""
    routes: dict[str, set[str]] = {}
    for product in section.get("products", []):
        if isinstance(product, dict):
            match = BRACKET.search(str(product.get("display") or ""))
            if match and isinstance(product.get("route"), str):
                routes.setdefault(match.group(1), set()).add(product["route"])
    return routes


def brand_products(section: dict[str, Any]) -> dict[str, list[str]]:
    """Brand name -> the names of the section's SBDs "... [Brand]"."""
    names: dict[str, list[str]] = {}
    for product in section.get("products", []):
        if isinstance(product, dict):
            display = str(product.get("display") or "")
            match = BRACKET.search(display)
            if match:
                names.setdefault(match.group(1), []).append(display)
    return names


def all_atc(codes: dict[str, Any]) -> set[str]:
    """Every ATC code anywhere in codes.json ("A12CC (Magnesium supplements group)" -> A12CC)."""
    found: set[str] = set()
    for section in (codes.get("rxnorm_groups") or {}).values():
        for entry in section.get("atc", []) if isinstance(section, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("code"), str):
                found.add(entry["code"])
    for row in codes.get("ingredient_index") or []:
        for text in row.get("atc", []) if isinstance(row, dict) else []:
            if isinstance(text, str) and text.split():
                found.add(text.split()[0])
    return found
