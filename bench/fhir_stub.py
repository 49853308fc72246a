"""A tiny FHIR R4 server for the fallback benchmark: a bare ASGI app, served by uvicorn.

Answers, from the benchmark payload's prefetch data (bench/payload_order_select.json), after an
injected delay (STUB_DELAY_MS, default 50) per request:

    GET {base}/Patient/<id>                 the Patient (404 OperationOutcome for another id)
    GET {base}/Observation?patient=<id>&... searchset of the Observations (filtered by `code`
                                            tokens when given, like a real server)
    GET {base}/MedicationRequest?patient=.. searchset of the MedicationRequests
    GET {base}/Condition?patient=<id>&...   searchset of the Conditions
    GET /health/live                        200, no delay
    GET /_stub/requests                     the request targets seen since the last call (JSON)

`base` is `/fhir`. Responses are serialised once per distinct query and cached, so the stub
spends its time in the delay, not in JSON encoding.

    STUB_DELAY_MS=50 python bench/serve.py fhir_stub:app 8099
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import parse_qs, unquote

from payloads import load, stub_resources

DELAY = float(os.environ.get("STUB_DELAY_MS", "50")) / 1000.0
BASE = "/fhir"
FHIR_JSON = b"application/fhir+json"

_DATA = stub_resources(load())
_PATIENT = _DATA["Patient"]
_SEEN: list[str] = []
_CACHE: dict[str, bytes] = {}


def _outcome(code: str, text: str) -> bytes:
    return json.dumps({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }).encode()


def _codes(resource: dict[str, Any]) -> set[str]:
    out = set()
    for coding in (resource.get("code") or {}).get("coding") or []:
        out.add(f"{coding.get('system')}|{coding.get('code')}")
        out.add(str(coding.get("code")))
    return out


def _search(resource_type: str, query: str, self_url: str) -> tuple[int, bytes]:
    params = parse_qs(query)
    patient = (params.get("patient") or params.get("subject") or [""])[0]
    if patient.removeprefix("Patient/") != _PATIENT["id"]:
        entries: list[dict[str, Any]] = []
    else:
        entries = list(_DATA[resource_type].get("entry") or [])
        if resource_type == "Observation" and "code" in params:
            wanted = {t for v in params["code"] for t in v.split(",") if t}
            entries = [e for e in entries if _codes(e["resource"]) & wanted]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    }
    return 200, json.dumps(bundle, separators=(",", ":")).encode()


def _answer(path: str, query: str) -> tuple[int, bytes]:
    if not path.startswith(BASE + "/"):
        return 404, _outcome("not-found", "unknown base")
    rest = path[len(BASE) + 1:].strip("/")
    parts = rest.split("/")
    if len(parts) == 2 and parts[0] == "Patient":
        if parts[1] == _PATIENT["id"]:
            return 200, json.dumps(_PATIENT, separators=(",", ":")).encode()
        return 404, _outcome("not-found", "no such Patient")
    if len(parts) == 1 and parts[0] in ("Observation", "MedicationRequest", "Condition"):
        return _search(parts[0], query, f"http://stub{path}?{query}")
    return 404, _outcome("not-supported", "the stub does not answer this")


async def _send(send: Any, status: int, body: bytes, content_type: bytes = FHIR_JSON) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    if path == "/health/live":
        await _send(send, 200, b'{"status":"ok"}', b"application/json")
        return
    if path == "/_stub/requests":
        seen = list(_SEEN)
        _SEEN.clear()
        await _send(send, 200, json.dumps(seen).encode(), b"application/json")
        return
    target = scope.get("raw_path", path.encode()).decode("latin-1") + (f"?{query}" if query else "")
    if len(_SEEN) < 10_000:
        _SEEN.append(target)
    if DELAY:
        await asyncio.sleep(DELAY)
    if scope["method"] != "GET":
        await _send(send, 405, _outcome("not-supported", "GET only"))
        return
    cached = _CACHE.get(target)
    if cached is None:
        status, body = _answer(unquote(path), unquote(query))
        if status == 200:
            _CACHE[target] = body
    else:
        status, body = 200, cached
    await _send(send, status, body)
