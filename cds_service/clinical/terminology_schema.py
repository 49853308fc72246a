"""Reading codes.json and groups.yaml safely: typed accessors and the list selectors.

Every check raises TerminologyError naming the place in groups.yaml or codes.json, so a bad
data change stops start-up with a message instead of silently changing which drugs a card
fires on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

BRACKET = re.compile(r"\[([^\]]+)\]\s*$")


class TerminologyError(ValueError):
    """The terminology data files are missing, malformed or inconsistent."""


def need(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise TerminologyError(f"groups.yaml {where}: {problem}")


def code_of(entry: dict[str, Any], where: str) -> str | None:
    """An entry's code; None for the UNVERIFIED placeholders (code null), which are skipped."""
    code = entry.get("code")
    if code is None:
        return None
    if not isinstance(code, str) or not code.strip():
        raise TerminologyError(f"codes.json {where}: code {code!r} is not a non-empty string")
    return code.strip()


def mapping(value: object, where: str, problem: str = "must be a mapping") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TerminologyError(f"groups.yaml {where}: {problem}")
    return value


def listing(value: object, where: str, problem: str = "must be a list") -> list[Any]:
    if not isinstance(value, list):
        raise TerminologyError(f"groups.yaml {where}: {problem}")
    return value


def str_list(value: object, where: str) -> list[str]:
    value = listing(value, where)
    for item in value:
        need(isinstance(item, str) and bool(item.strip()), where, f"{item!r} is not a string")
    return [item.strip() for item in value]


Filter = Callable[[dict[str, Any], set[Any]], bool]


def entry_filter(selector: object, where: str, field_name: str) -> Filter:
    """A predicate on (entry, its routes) from {kind, routes} (codes are checked by _select)."""
    if not isinstance(selector, dict):
        return lambda entry, routes: True
    kind = selector.get("kind", "any")
    need(kind in ("any", "single", "multi"), f"{where}.{field_name}", f"bad kind {kind!r}")
    wanted = set(str_list(selector["routes"], where)) if "routes" in selector else None

    def accept(entry: dict[str, Any], routes: set[Any]) -> bool:
        single = not entry.get("multi_ingredient") or bool(entry.get("potassium_salts_only"))
        if kind != "any" and single != (kind == "single"):
            return False
        return wanted is None or (bool(routes) and routes <= wanted)

    return accept


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
    items = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    here = f"{where}.{field_name}"
    need(selector == "all" or isinstance(selector, dict), here, "must be 'all' or a mapping")
    codes = selector.get("codes") if isinstance(selector, dict) else None
    if codes is None:
        return [e for e in items if accept(e)]
    wanted = str_list(codes, here)
    by_code = {code_of(e, here): e for e in items}
    missing = [c for c in wanted if c not in by_code]
    need(not missing, here, f"codes not in codes.json: {missing}")
    return [by_code[c] for c in wanted if accept(by_code[c])]


def brand_routes(section: dict[str, Any]) -> dict[str, set[str]]:
    """Brand name -> the routes of the section's SBDs named "... [Brand]"."""
    routes: dict[str, set[str]] = {}
    for product in section.get("products", []):
        if isinstance(product, dict):
            match = BRACKET.search(str(product.get("display") or ""))
            if match and isinstance(product.get("route"), str):
                routes.setdefault(match.group(1), set()).add(product["route"])
    return routes


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
