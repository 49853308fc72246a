"""A tiny in-memory FHIR server for exactly the queries our prefetch templates use.

Supported (anything else raises UnsupportedQuery, so a new template form fails loudly):

    Type/id                                  read
    Type?patient=ID                          reference search on subject (or DSTU2 `patient`)
    &code=sys|code,sys|code                  token search on `code` (Observation.code)
    &status=a,b                              token search on `status`
    &clinical-status=a,b                     R4 CodeableConcept, or the STU3 plain string
    &_sort=-date / date                      by effective[x] (Observation); undated last
    &_count=N                                page size; `next` links (with `_offset`) when a base
                                             URL is known, so paging is exercised too

`MemoryFhirTransport` serves the same answers over httpx, as the EHR's `fhirServer`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import orjson

from cds_service.tools.bundles import Resource, patient_reference, reference_key

FHIR_JSON = "application/fhir+json"
_SEARCH_PARAMS = frozenset({"patient", "code", "status", "clinical-status", "_sort", "_count"})
_INTERNAL_PARAMS = frozenset({"_offset"})


class UnsupportedQuery(ValueError):
    """A query form this evaluator does not implement."""


@dataclass(frozen=True, slots=True)
class Query:
    resource_type: str
    resource_id: str | None  # a read
    params: tuple[tuple[str, str], ...] = ()


def parse_query(relative: str) -> Query:
    """`Observation?patient=1&_count=2` or `Patient/1` (relative to the FHIR base)."""
    path, _, query = relative.partition("?")
    segments = [s for s in path.strip("/").split("/") if s]
    if len(segments) == 2 and not query:
        return Query(segments[0], segments[1])
    if len(segments) != 1:
        raise UnsupportedQuery(f"not a read or a type search: {path!r}")
    params = tuple(parse_qsl(query, keep_blank_values=True))
    for name, _value in params:
        if name not in _SEARCH_PARAMS | _INTERNAL_PARAMS:
            raise UnsupportedQuery(f"search parameter {name!r} is not supported")
    return Query(segments[0], None, params)


class MemoryFhir:
    """Resources held in memory, answered like a FHIR server would."""

    def __init__(self, resources: Iterable[Resource], base: str | None = None) -> None:
        self.base = base.rstrip("/") if base else None
        self._by_key: dict[str, Resource] = {}
        for resource in resources:
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                self._by_key[f"{rtype}/{rid}"] = resource

    @property
    def resources(self) -> list[Resource]:
        return list(self._by_key.values())

    def read(self, resource_type: str, resource_id: str) -> Resource | None:
        found = self._by_key.get(f"{resource_type}/{resource_id}")
        return copy.deepcopy(found) if found is not None else None

    def run(self, relative: str) -> Resource | None:
        """A read's resource (None when absent) or a search's searchset Bundle."""
        query = parse_query(relative)
        if query.resource_id is not None:
            return self.read(query.resource_type, query.resource_id)
        return self.search(query)

    def search(self, query: Query) -> Resource:
        matches = [
            r
            for r in self._by_key.values()
            if r.get("resourceType") == query.resource_type
            and all(_matches(r, name, value) for name, value in query.params)
        ]
        params = dict(query.params)
        if "_sort" in params:
            matches = _sorted(matches, params["_sort"])
        offset = _int_param(params, "_offset", 0)
        count = _int_param(params, "_count", len(matches) or 1)
        page = matches[offset : offset + count]
        bundle: Resource = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [{"resource": copy.deepcopy(r), "search": {"mode": "match"}} for r in page],
        }
        if self.base and offset + count < len(matches):
            rest = [(k, v) for k, v in query.params if k != "_offset"]
            rest.append(("_offset", str(offset + count)))
            url = f"{self.base}/{query.resource_type}?{urlencode(rest)}"
            bundle["link"] = [{"relation": "next", "url": url}]
        return bundle


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    if name not in params:
        return default
    try:
        value = int(params[name])
    except ValueError:
        raise UnsupportedQuery(f"{name} must be an integer") from None
    if value < 0 or (name == "_count" and value == 0):
        raise UnsupportedQuery(f"{name} out of range")
    return value


def _matches(resource: Resource, name: str, value: str) -> bool:
    if name in ("_sort", "_count", "_offset"):
        return True
    if name == "patient":
        wanted = value if "/" in value else f"Patient/{value}"
        return patient_reference(resource) == reference_key(wanted)
    tokens = [t for t in value.split(",") if t]
    if name == "code":
        return any(_coding_matches(resource.get("code"), t) for t in tokens)
    if name == "status":
        return any(_string_matches(resource.get("status"), t) for t in tokens)
    if name == "clinical-status":
        status = resource.get("clinicalStatus")
        if isinstance(status, str):  # STU3
            return any(_string_matches(status, t) for t in tokens)
        return any(_coding_matches(status, t) for t in tokens)
    raise UnsupportedQuery(f"search parameter {name!r} is not supported")


def _split_token(token: str) -> tuple[str | None, str]:
    """`sys|code` -> (sys, code); `|code` -> ("", code) (no system); `code` -> (None, code)."""
    if "|" in token:
        system, code = token.split("|", 1)
        return system, code
    return None, token


def _string_matches(field: object, token: str) -> bool:
    _system, code = _split_token(token)
    return isinstance(field, str) and field == code


def _coding_matches(concept: object, token: str) -> bool:
    system, code = _split_token(token)
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if not isinstance(coding, dict) or coding.get("code") != code:
            continue
        if system is None or (coding.get("system") or "") == system:
            return True
    return False


def _date_of(resource: Resource) -> str | None:
    """Observation's `date` search parameter: effective[x]."""
    for name in ("effectiveDateTime", "effectiveInstant"):
        value = resource.get(name)
        if isinstance(value, str):
            return value
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        for name in ("start", "end"):
            if isinstance(period.get(name), str):
                return str(period[name])
    return None


def _sorted(resources: list[Resource], sort: str) -> list[Resource]:
    if sort not in ("date", "-date"):
        raise UnsupportedQuery(f"_sort={sort!r} is not supported")
    dated = [r for r in resources if _date_of(r) is not None]
    undated = [r for r in resources if _date_of(r) is None]
    dated.sort(key=lambda r: str(_date_of(r)), reverse=sort.startswith("-"))
    return dated + undated


def _outcome(status: int, text: str) -> httpx.Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-found" if status == 404 else "not-supported",
                   "diagnostics": text}],
    }  # fmt: skip
    return httpx.Response(status, content=orjson.dumps(body), headers={"Content-Type": FHIR_JSON})


class MemoryFhirTransport(httpx.AsyncBaseTransport):
    """An httpx transport that answers from a MemoryFhir (swap `source` per hook call).

    With no source, or a URL outside its base, every request gets 503: the EHR is unavailable.
    """

    def __init__(self, source: MemoryFhir | Callable[[], MemoryFhir | None] | None = None):
        self.source = source

    def current(self) -> MemoryFhir | None:
        source = self.source
        return source() if callable(source) else source

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fhir = self.current()
        if fhir is None or fhir.base is None:
            return _outcome(503, "no FHIR data behind this server")
        base = urlsplit(fhir.base)
        url = urlsplit(str(request.url))
        if (url.scheme, url.netloc) != (base.scheme, base.netloc) or not url.path.startswith(
            base.path
        ):
            return _outcome(503, "not this FHIR server")
        relative = url.path[len(base.path) :].lstrip("/")
        if url.query:
            relative += "?" + url.query
        try:
            result = fhir.run(relative)
        except UnsupportedQuery as exc:
            return _outcome(400, str(exc))
        if result is None:
            return _outcome(404, "no such resource")
        return httpx.Response(
            200, content=orjson.dumps(result), headers={"Content-Type": FHIR_JSON}
        )
