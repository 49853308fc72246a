"""The baseline: a bare FastAPI endpoint taking the same hook request as our service.

Reads the body, parses the JSON (orjson, the parser our service uses, so the baseline is the
fastest honest FastAPI endpoint, not a slow strawman), answers `{"cards": []}`. No validation,
no gc tuning. Served by bench/serve.py with exactly the uvicorn settings of `cds-service serve`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request

app = FastAPI(title="bare baseline")


@app.post("/cds-services/{service_id}")
async def hook(service_id: str, request: Request) -> dict[str, Any]:
    orjson.loads(await request.body())
    return {"cards": []}


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}
