"""Build the terminology lookups from codes.json + groups.yaml, checking both on the way.

Runs once at start-up. Everything the hot path needs becomes a dict or a frozenset here, so
a hook call never walks the code lists. Any inconsistency (a group that selects nothing, a
code groups.yaml names but codes.json lacks, a code that isn't a string) stops start-up with
a TerminologyError that says where.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cds_service.clinical.strength import Strength, parse_strength
from cds_service.clinical.text import route_from_data, words


class TerminologyError(ValueError):
    """The terminology data files are missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class GroupRef:
    """Membership in a group, possibly only on some routes (for ingredient-level matches)."""

    group: str
    routes_in: frozenset[str] | None = None
    routes_not_in: frozenset[str] | None = None

    def applies(self, route: str | None) -> bool:
        if self.routes_in is not None:
            return route in self.routes_in
        if self.routes_not_in is not None:
            return route not in self.routes_not_in
        return True


@dataclass(frozen=True, slots=True)
class DrugConcept:
    """What one code or name stands for: its groups, and its route when the data knows it."""

    refs: tuple[GroupRef, ...]
    route: str | None = None
    product: bool = False  # a product code: route known, route gates don't apply
    ingredient: bool = False  # an ingredient name: two of them in one text = a combination


@dataclass(slots=True)
class _Acc:
    refs: list[GroupRef] = field(default_factory=list)
    routes: set[str] = field(default_factory=set)
    product: bool = False
    ingredient: bool = False

    def add(self, ref: GroupRef, route: str | None, *, product: bool, ingredient: bool) -> None:
        if ref not in self.refs:
            self.refs.append(ref)
        if route:
            self.routes.add(route)
        self.product |= product
        self.ingredient |= ingredient

    def freeze(self) -> DrugConcept:
        route = next(iter(self.routes)) if len(self.routes) == 1 else None
        return DrugConcept(tuple(self.refs), route, self.product, self.ingredient)


_REFORMULATED = re.compile(r"\s+Reformulated\b.*$", re.IGNORECASE)
_BRACKET = re.compile(r"\[([^\]]+)\]\s*$")
_DRUG_KEYS = frozenset({
    "from", "ingredients", "products", "brand_names", "atc", "atc_extra", "atc_exclude",
    "ingredient_routes", "extra_names", "exclude_names", "if_combination", "supersedes",
    "text_all_words",
})  # fmt: skip


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


class DrugIndex:
    """Accumulates codes, ATC codes and names of all drug groups, then freezes them."""

    def __init__(self, codes: dict[str, Any]) -> None:
        self.sections: dict[str, Any] = codes.get("rxnorm_groups") or {}
        self.known_atc = _all_atc(codes)
        self.rxnorm: dict[str, _Acc] = {}
        self.atc: dict[str, _Acc] = {}
        self.names: dict[tuple[str, ...], tuple[str, _Acc]] = {}
        self.if_combination: dict[str, str] = {}
        self.supersedes: dict[str, frozenset[str]] = {}
        self.all_words: list[tuple[frozenset[str], str]] = []
        self.strengths: dict[str, Strength] = {}

    def add_group(self, gid: str, spec: object) -> None:
        where = f"drug_groups.{gid}"
        spec = mapping(spec, where)
        need(not set(spec) - _DRUG_KEYS, where, f"unknown keys {sorted(set(spec) - _DRUG_KEYS)}")
        source = str(spec.get("from"))
        section = mapping(self.sections.get(source), where, f"from: no rxnorm_groups.{source}")
        gated = _gate(gid, spec.get("ingredient_routes"), where)
        plain = GroupRef(gid)
        count = self._ingredients(section, spec, gated, where)
        count += self._products(section, spec, plain, gated, where)
        count += self._brands(section, spec, gated, where)
        count += self._atc(section, spec, gated, where)
        need(count > 0, where, "selects no code")
        for name in str_list(spec.get("extra_names", []), f"{where}.extra_names"):
            self._name(name, gated, None, ingredient=False)
        excluded = {tuple(words(n)) for n in str_list(spec.get("exclude_names", []), where)}
        for key in excluded:
            entry = self.names.get(key)
            if entry is not None:
                entry[1].refs[:] = [r for r in entry[1].refs if r.group != gid]
        if "if_combination" in spec:
            self.if_combination[gid] = str(spec["if_combination"])
        if "supersedes" in spec:
            self.supersedes[gid] = frozenset(str_list(spec["supersedes"], where))
        for required in spec.get("text_all_words", []):
            wanted = frozenset(w for n in str_list(required, where) for w in words(n))
            self.all_words.append((wanted, gid))

    def _ingredients(
        self, section: dict[str, Any], spec: dict[str, Any], ref: GroupRef, where: str
    ) -> int:
        entries = _select(
            section.get("ingredients", []),
            spec.get("ingredients"),
            where,
            "ingredients",
            lambda e: True,
        )
        for entry in entries:
            code = code_of(entry, where)
            if code:
                _acc(self.rxnorm, code).add(ref, None, product=False, ingredient=True)
            self._name(entry.get("display"), ref, None, ingredient=True)
        return len(entries)

    def _products(
        self,
        section: dict[str, Any],
        spec: dict[str, Any],
        ref: GroupRef,
        brand_ref: GroupRef,
        where: str,
    ) -> int:
        """Product codes (route known, never gated); their "[Brand]" names are brand-level."""
        flt = _filter(spec.get("products"), where, "products")
        entries = _select(
            section.get("products", []),
            spec.get("products"),
            where,
            "products",
            lambda e: flt(e, {e.get("route")}),
        )
        for entry in entries:
            code, route = code_of(entry, where), route_from_data(entry.get("route"))
            if code:
                _acc(self.rxnorm, code).add(ref, route, product=True, ingredient=False)
                strength = (
                    None if entry.get("multi_ingredient") else parse_strength(entry.get("display"))
                )
                if strength:
                    self.strengths[code] = strength
            bracket = _BRACKET.search(str(entry.get("display") or ""))
            if bracket:
                self._name(bracket.group(1), brand_ref, route, ingredient=False)
        return len(entries)

    def _brands(
        self, section: dict[str, Any], spec: dict[str, Any], ref: GroupRef, where: str
    ) -> int:
        routes = _brand_routes(section)
        flt = _filter(spec.get("brand_names"), where, "brand_names")
        entries = _select(
            section.get("brand_names", []),
            spec.get("brand_names"),
            where,
            "brand_names",
            lambda e: flt(e, routes.get(str(e.get("display")), set())),
        )
        for entry in entries:
            brand_routes = routes.get(str(entry.get("display")), set())
            route = route_from_data(next(iter(brand_routes))) if len(brand_routes) == 1 else None
            code = code_of(entry, where)
            if code:
                _acc(self.rxnorm, code).add(ref, route, product=False, ingredient=False)
            self._name(entry.get("display"), ref, route, ingredient=False)
        return len(entries)

    def _atc(self, section: dict[str, Any], spec: dict[str, Any], ref: GroupRef, where: str) -> int:
        selector = spec.get("atc")
        listed = [code_of(e, where) for e in section.get("atc", [])]
        if selector == "all":
            chosen = [c for c in listed if c]
        else:
            chosen = str_list(selector or [], f"{where}.atc")
            for code in chosen:
                need(code in self.known_atc, f"{where}.atc", f"{code} is not in codes.json")
        excluded = set(str_list(spec.get("atc_exclude", []), f"{where}.atc_exclude"))
        need(excluded <= set(listed), f"{where}.atc_exclude", "names codes not in the section")
        extra = str_list(spec.get("atc_extra", []), f"{where}.atc_extra")
        for code in extra:
            need(code in self.known_atc, f"{where}.atc_extra", f"{code} is not in codes.json")
        final = [c for c in chosen if c not in excluded] + extra
        for code in final:
            _acc(self.atc, code.upper()).add(ref, None, product=False, ingredient=False)
        return len(final)

    def _name(self, name: object, ref: GroupRef, route: str | None, *, ingredient: bool) -> None:
        if not isinstance(name, str):
            return
        label = _REFORMULATED.sub("", name).strip()
        key = tuple(words(label))
        if key:
            _label, acc = self.names.setdefault(key, (label, _Acc()))
            acc.add(ref, route, product=False, ingredient=ingredient)


def _acc(table: dict[str, _Acc], key: str) -> _Acc:
    return table.setdefault(key, _Acc())


def _gate(gid: str, value: object, where: str) -> GroupRef:
    if value is None:
        return GroupRef(gid)
    value = mapping(value, f"{where}.ingredient_routes", "must be {in: [...]} or {not_in: [...]}")
    need(
        len(value) == 1 and set(value) <= {"in", "not_in"},
        f"{where}.ingredient_routes",
        "must be {in: [...]} or {not_in: [...]}",
    )
    routes = frozenset(str_list(next(iter(value.values())), f"{where}.ingredient_routes"))
    return GroupRef(gid, routes_in=routes) if "in" in value else GroupRef(gid, None, routes)


Filter = Callable[[dict[str, Any], set[Any]], bool]


def _filter(selector: object, where: str, field_name: str) -> Filter:
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


def _select(
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


def _brand_routes(section: dict[str, Any]) -> dict[str, set[str]]:
    """Brand name -> the routes of the section's SBDs named "... [Brand]"."""
    routes: dict[str, set[str]] = {}
    for product in section.get("products", []):
        if isinstance(product, dict):
            match = _BRACKET.search(str(product.get("display") or ""))
            if match and isinstance(product.get("route"), str):
                routes.setdefault(match.group(1), set()).add(product["route"])
    return routes


def _all_atc(codes: dict[str, Any]) -> set[str]:
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
