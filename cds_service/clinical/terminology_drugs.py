"""Drug groups: codes.json rxnorm_groups + groups.yaml drug_groups -> code and name lookups.

Runs once at start-up. Every RxNorm code, ATC code and drug name the groups select becomes
one DrugConcept (its groups and, when the data knows it, its route), so a hook call is a dict
lookup. Any inconsistency (a group that selects nothing, a code groups.yaml names but
codes.json lacks) stops start-up with a TerminologyError that says where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cds_service.clinical.strength import Strength, parse_strength
from cds_service.clinical.terminology_schema import (
    BRACKET,
    all_atc,
    brand_products,
    brand_routes,
    code_of,
    entry_filter,
    mapping,
    need,
    select,
    str_list,
)
from cds_service.clinical.text import route_from_data, words


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
_DRUG_KEYS = frozenset({
    "from", "ingredients", "products", "brand_names", "atc", "atc_extra", "atc_exclude",
    "ingredient_routes", "extra_names", "exclude_names", "if_combination", "supersedes",
    "text_all_words", "text_exclude_words", "also",
})  # fmt: skip
# `also`: further sections a group selects from (a code is listed once in the data, e.g. the
# losartan/hydrochlorothiazide products sit in the diuretics section only).
_ALSO_KEYS = frozenset({"from", "ingredients", "products", "brand_names", "atc"})
_BrandInfo = tuple[dict[str, set[str]], dict[str, list[str]]]  # brand -> SBD routes, SBD names


class DrugIndex:
    """Accumulates codes, ATC codes and names of all drug groups, then freezes them."""

    def __init__(self, codes: dict[str, Any]) -> None:
        self.sections: dict[str, Any] = codes.get("rxnorm_groups") or {}
        self.known_atc = all_atc(codes)
        self.rxnorm: dict[str, _Acc] = {}
        self.atc: dict[str, _Acc] = {}
        self.names: dict[tuple[str, ...], tuple[str, _Acc]] = {}
        self.if_combination: dict[str, str] = {}
        self.supersedes: dict[str, frozenset[str]] = {}
        self.all_words: list[tuple[frozenset[str], str]] = []
        self.text_vetoes: dict[str, frozenset[str]] = {}
        self.strengths: dict[str, Strength] = {}
        self._brands_seen: dict[int, _BrandInfo] = {}

    def add_group(self, gid: str, spec: object) -> None:
        where = f"drug_groups.{gid}"
        spec = mapping(spec, where)
        need(not set(spec) - _DRUG_KEYS, where, f"unknown keys {sorted(set(spec) - _DRUG_KEYS)}")
        gated = _gate(gid, spec.get("ingredient_routes"), where)
        count = self._select(spec, gated, where)
        for n, extra in enumerate(spec.get("also", [])):
            here = f"{where}.also[{n}]"
            extra = mapping(extra, here)
            unknown = sorted(set(extra) - _ALSO_KEYS)
            need(not unknown, here, f"unknown keys {unknown}")
            count += self._select(extra, gated, here)
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
        vetoes = str_list(spec.get("text_exclude_words", []), f"{where}.text_exclude_words")
        if vetoes:
            self.text_vetoes[gid] = frozenset(w for v in vetoes for w in words(v))
        for required in spec.get("text_all_words", []):
            wanted = frozenset(w for n in str_list(required, where) for w in words(n))
            self.all_words.append((wanted, gid))

    def _select(self, spec: dict[str, Any], gated: GroupRef, where: str) -> int:
        """Codes and names one `from` section contributes; how many entries it selected."""
        source = str(spec.get("from"))
        section = mapping(self.sections.get(source), where, f"from: no rxnorm_groups.{source}")
        count = self._ingredients(section, spec, gated, where)
        count += self._products(section, spec, GroupRef(gated.group), gated, where)
        count += self._brands(section, spec, gated, where)
        return count + self._atc(section, spec, gated, where)

    def _ingredients(
        self, section: dict[str, Any], spec: dict[str, Any], ref: GroupRef, where: str
    ) -> int:
        entries = select(
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
        flt = entry_filter(spec.get("products"), where, "products")
        entries = select(
            section.get("products", []),
            spec.get("products"),
            where,
            "products",
            lambda e: flt(e, {e.get("route")}, [str(e.get("display") or "")]),
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
            bracket = BRACKET.search(str(entry.get("display") or ""))
            if bracket:
                self._name(bracket.group(1), brand_ref, route, ingredient=False)
        return len(entries)

    def _brands(
        self, section: dict[str, Any], spec: dict[str, Any], ref: GroupRef, where: str
    ) -> int:
        routes, names = self._brand_info(section)
        flt = entry_filter(spec.get("brand_names"), where, "brand_names")
        entries = select(
            section.get("brand_names", []),
            spec.get("brand_names"),
            where,
            "brand_names",
            lambda e: flt(
                e, routes.get(str(e.get("display")), set()), names.get(str(e.get("display")), [])
            ),
        )
        for entry in entries:
            own_routes = routes.get(str(entry.get("display")), set())
            route = route_from_data(next(iter(own_routes))) if len(own_routes) == 1 else None
            code = code_of(entry, where)
            if code:
                _acc(self.rxnorm, code).add(ref, route, product=False, ingredient=False)
            self._name(entry.get("display"), ref, route, ingredient=False)
        return len(entries)

    def _brand_info(self, section: dict[str, Any]) -> _BrandInfo:
        """A section's brand routes and SBD names, worked out once per section."""
        key = id(section)
        if key not in self._brands_seen:
            self._brands_seen[key] = (brand_routes(section), brand_products(section))
        return self._brands_seen[key]

    def _atc(self, section: dict[str, Any], spec: dict[str, Any], ref: GroupRef, where: str) -> int:
        selector = spec.get("atc")
        listed = [code_of(e, where) for e in section.get("atc", [])]
        if selector == "all":
            chosen = [c for c in listed if c]
        else:
            chosen = str_list(selector or [], f"{where}.atc")
            for code in chosen:
                need(code in self.known_atc, f"{where}.atc", f"{code} is not in the code data")
        excluded = set(str_list(spec.get("atc_exclude", []), f"{where}.atc_exclude"))
        need(excluded <= set(listed), f"{where}.atc_exclude", "names codes not in the section")
        extra = str_list(spec.get("atc_extra", []), f"{where}.atc_extra")
        for code in extra:
            need(code in self.known_atc, f"{where}.atc_extra", f"{code} is not in the code data")
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
