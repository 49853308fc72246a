"""Reading a JSON request body safely: media type, size limit (streamed), syntax and depth."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from cds_service.errors import BadRequest, PayloadTooLarge, RequestTooDeep, UnsupportedMediaType


async def read_json_object(request: Request, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The body as a JSON object, or a typed error (415, 413, 400)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("application/json", "application/fhir+json") and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise UnsupportedMediaType("The request body must be JSON (Content-Type: application/json).")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    return parse_json_object(b"".join(chunks), max_depth=max_depth)


def parse_json_object(raw: bytes, *, max_depth: int) -> dict[str, Any]:
    """Parse bytes into a JSON object, refusing bad syntax, non-objects and deep nesting."""
    if not raw.strip():
        raise BadRequest("The request body is empty.")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson also refuses nesting beyond 1024 levels here, before any recursion of ours.
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise BadRequest("The request body must be a JSON object.")
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int) -> None:
    """Raise RequestTooDeep when containers nest deeper than `max_depth` (iterative, no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > max_depth:
            raise RequestTooDeep(f"The JSON nests deeper than {max_depth} levels.")
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)) and child:
                push((child, depth + 1))
