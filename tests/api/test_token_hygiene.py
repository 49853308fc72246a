"""Tokens never reach logs or storage: a full authenticated run, every log record captured."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.builders import (
    hook_request,
    medication_request,
    observation,
    patient,
    searchset,
    service_url,
)
from tests.security.helpers import (
    SANDBOX_ISS,
    SANDBOX_JKU,
    SANDBOX_KID,
    claims,
    mint,
    sandbox_private_key,
)

FHIR = "https://fhir.example.org/r4"
ACCESS_TOKEN = "ACCESS-TOKEN-must-never-be-logged-4f2a9c"


def _jwt(path: str) -> str:
    return mint(
        sandbox_private_key(),
        claims(iss=SANDBOX_ISS, aud=f"http://testserver{path}"),
        kid=SANDBOX_KID,
        jku=SANDBOX_JKU,
    )


def test_a_full_run_logs_and_stores_neither_token(
    client_factory,
    settings_factory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    settings = settings_factory(auth_required=True, profile="sandbox", log_level="DEBUG")
    seen_tokens: list[str] = []

    def fhir(request: httpx.Request) -> httpx.Response:
        seen_tokens.append(request.headers.get("authorization", ""))
        if request.url.path.endswith("/Patient/pat-1"):
            return httpx.Response(200, json=patient(birth_date="1940-01-01"))
        if request.url.path.endswith("/Observation"):
            return httpx.Response(200, json=searchset(observation("19123-9", 2.1, "mg/dL")))
        return httpx.Response(200, json=searchset())

    client = client_factory(settings, fhir_transport=httpx.MockTransport(fhir))
    jwts = []
    path = service_url("order-sign")
    body = hook_request(
        "order-sign",
        prefetch=False,
        fhir_server=FHIR,
        drafts=[
            medication_request(
                "997010",
                "quinine sulfate 324 MG Oral Capsule",
                reason=("http://hl7.org/fhir/sid/icd-10-cm", "R25.2"),
            )
        ],
    )
    body["fhirAuthorization"] = {
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "cds",
    }
    jwts.append(_jwt(path))
    response = client.post(path, json=body, headers={"Authorization": f"Bearer {jwts[-1]}"})
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards
    jwts.append(_jwt(path + "/feedback"))
    feedback = {
        "feedback": [
            {
                "card": cards[0]["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-25T10:00:00Z",
            }
        ]
    }
    assert (
        client.post(
            path + "/feedback", json=feedback, headers={"Authorization": f"Bearer {jwts[-1]}"}
        ).status_code
        == 200
    )
    # A replayed token is refused: its refusal is logged too, still without the token.
    assert (
        client.get("/cds-services", headers={"Authorization": f"Bearer {jwts[0]}"}).status_code
        == 401
    )

    assert seen_tokens and all(t == f"Bearer {ACCESS_TOKEN}" for t in seen_tokens)
    captured = capfd.readouterr()
    raw_records = "\n".join(
        f"{r.getMessage()} {r.args!r} {getattr(r, 'msg', '')!r}" for r in caplog.records
    )
    assert "hook_call" in raw_records or "hook_call" in captured.err + captured.out
    for secret in [ACCESS_TOKEN, *jwts, *(j.split(".")[2] for j in jwts)]:
        assert secret not in raw_records
        assert secret not in captured.out and secret not in captured.err
    database = (tmp_path / "cds.db").read_bytes()
    for wal in tmp_path.glob("cds.db-*"):
        database += wal.read_bytes()
    for secret in [ACCESS_TOKEN, *jwts]:
        assert secret.encode() not in database
