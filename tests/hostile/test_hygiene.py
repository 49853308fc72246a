"""Issue 14, items 5-10: correctness and hygiene under hostile input."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from cds_service.api import services
from cds_service.fhir.access import FhirAccessPolicy, embedded_ipv4
from cds_service.fhir.errors import FhirAccessDenied
from cds_service.settings import Settings
from cds_service.store.tables import Feedback, ServedCard
from tests.builders import hook_request, medication_request, service_url
from tests.security.helpers import (
    SANDBOX_ISS,
    SANDBOX_JKU,
    SANDBOX_KID,
    claims,
    mint,
    sandbox_private_key,
)

SANDBOX = "https://sandbox.cds-hooks.org"
PHI = "PHI-HOOK Zelda Canaryfamily DOB 1940-02-02"
QUININE = "997010"


def quinine_call(display: str = "quinine sulfate 324 MG Oral Capsule", **fields: Any) -> dict[str, Any]:
    body = hook_request("order-sign", drafts=[medication_request(QUININE, display, mid="q1")])
    body.update(fields)
    return body


def sandbox_token(url: str, **extra: Any) -> str:
    return mint(sandbox_private_key(), claims(iss=SANDBOX_ISS, aud=url, **extra), kid=SANDBOX_KID, jku=SANDBOX_JKU)


@pytest.fixture
def secured(settings_factory: Callable[..., Settings], client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory(settings_factory(auth_required=True, profile="sandbox"))


# --- 5: a lone surrogate in jti -------------------------------------------------------------


def test_a_jti_with_a_lone_surrogate_is_a_plain_401(
    secured: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    token = sandbox_token("http://testserver/cds-services", jti="\ud800x")
    payload = base64.urlsafe_b64decode(token.split(".")[1] + "==").decode()
    assert '"\\ud800x"' in payload, "the token really carries the escaped lone surrogate"
    response = secured.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "Traceback" not in capsys.readouterr().err


# --- 6: 500s and preflights carry the security headers ------------------------------------


def test_a_500_is_an_operation_outcome_with_every_header(
    client_factory: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"bug while reading {PHI}")

    monkeypatch.setattr(services, "answer_call", broken)
    client = client_factory()
    client.event_hooks["response"] = []  # this test wants the 500
    response = client.post(service_url("order-sign"), json=quinine_call(), headers={"Origin": SANDBOX})
    assert response.status_code == 500
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "internal-error"
    assert response.headers["access-control-allow-origin"] == SANDBOX
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    err = capsys.readouterr().err
    assert sum("unhandled RuntimeError" in line for line in err.splitlines()) == 1, "logged once"
    assert "Zelda" not in err, "the message (which may quote data) is not logged"


def test_a_preflight_carries_the_security_headers(client: TestClient) -> None:
    response = client.options(
        service_url("order-sign"),
        headers={"Origin": SANDBOX, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SANDBOX
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]


# --- 7: caller free text is stored as a digest ---------------------------------------------


def test_free_text_ids_are_stored_as_digests(client: TestClient) -> None:
    response = client.post(service_url("order-sign"), json=quinine_call(hookInstance=PHI))
    assert response.status_code == 200 and response.json()["cards"]
    card = response.json()["cards"][0]["uuid"]
    feedback = {"feedback": [
        {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-25T10:00:00Z"},
        {"card": "Zelda Canaryfamily", "outcome": "accepted", "outcomeTimestamp": "2026-11-25T10:00:00Z",
         "acceptedSuggestions": [{"id": "Zelda note"}]},
    ]}
    assert client.post(service_url("order-sign") + "/feedback", json=feedback).status_code == 200
    store = client.app.state.cds.store  # type: ignore[attr-defined]
    store.flush_served()
    with store.engine.connect() as conn:
        served = conn.execute(select(ServedCard.hook_instance)).scalars().all()
        cards = conn.execute(select(Feedback.card_uuid, Feedback.accepted_suggestions)).all()
    stored = repr((served, cards))
    assert "Zelda" not in stored
    assert served and all(value.startswith("sha256:") for value in served)
    assert card in {row[0] for row in cards}, "a UUID is kept as sent: feedback joins on it"


# --- 8: every card string is inert ---------------------------------------------------------


def test_drug_text_cannot_bring_markup_into_any_card_string(client: TestClient) -> None:
    display = 'quinine <img src=x onerror=alert(1)> "q" <script>x</script>'
    response = client.post(service_url("order-sign"), json=quinine_call(display))
    assert response.status_code == 200
    cards = response.json()["cards"]
    descriptions = [a["description"] for c in cards for s in c.get("suggestions", []) for a in s["actions"]]
    assert any("quinine" in d for d in descriptions), descriptions
    assert "<img" not in response.text and "<script" not in response.text
    plain = [c["summary"] for c in cards] + [s["label"] for c in cards for s in c.get("suggestions", [])]
    assert not any("<" in text or ">" in text for text in plain + descriptions)


# --- 9: IPv6 forms that carry an IPv4 address ----------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1 (the case)
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::ffff:127.0.0.1",  # IPv4-mapped
    ],
)
async def test_embedded_private_ipv4_is_refused(address: str, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = FhirAccessPolicy(allowed_bases=None, allowed_hosts=("*.example.org",))
    literal = f"https://[{address}]/fhir"
    with pytest.raises(FhirAccessDenied):
        FhirAccessPolicy(allowed_bases=(literal,), allowed_hosts=()).check_base(literal)

    async def resolve(self: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", resolve)
    with pytest.raises(FhirAccessDenied, match="non-public"):
        await policy.check_base_async("https://fhir.example.org/r4")


def test_the_embedded_address_is_what_is_judged() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("2002:7f00:1::1")) == [ipaddress.IPv4Address("127.0.0.1")]
    public_6to4 = "2002:808:808::1"  # 6to4 of 8.8.8.8: allowed, like 8.8.8.8
    FhirAccessPolicy(allowed_bases=(f"https://[{public_6to4}]/r4",), allowed_hosts=()).check_base(
        f"https://[{public_6to4}]/r4"
    )


# --- 10: ids cannot be probed, readiness means writable, feedback is rate limited ----------


def test_without_a_token_unknown_and_real_ids_look_the_same(secured: TestClient) -> None:
    real = secured.post(service_url("order-sign"), json=quinine_call())
    made_up = secured.post("/cds-services/guess-an-id", json=quinine_call())
    assert real.status_code == made_up.status_code == 401
    assert real.content == made_up.content


def test_with_a_token_an_unknown_id_is_404(secured: TestClient) -> None:
    url = "http://testserver/cds-services/guess-an-id"
    response = secured.post("/cds-services/guess-an-id", json=quinine_call(),
                            headers={"Authorization": f"Bearer {sandbox_token(url)}"})
    assert response.status_code == 404


def test_ready_fails_when_the_database_refuses_writes(client: TestClient) -> None:
    assert client.get("/health/ready").status_code == 200
    engine = client.app.state.cds.store.engine  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def read_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only = ON")

    engine.dispose()  # new connections: reads work, writes are refused
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "not-ready"


def test_feedback_is_rate_limited_per_client(
    settings_factory: Callable[..., Settings], client_factory: Callable[..., TestClient]
) -> None:
    client = client_factory(settings_factory(feedback_items_per_minute=5))

    def items(n: int) -> dict[str, Any]:
        return {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-25T10:00:00Z"} for _ in range(n)]}

    url = service_url("order-sign") + "/feedback"
    assert client.post(url, json=items(3)).status_code == 200
    refused = client.post(url, json=items(3))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "rate-limited"
    assert client.post(url, json=items(2)).status_code == 200, "what is left may still be used"
    assert client.post(url, json=items(1)).status_code == 429, "refused before the body is read"
    with client.app.state.cds.store.engine.connect() as conn:  # type: ignore[attr-defined]
        assert len(conn.execute(select(Feedback.id)).all()) == 5
    assert "cds_feedback_throttled_total 2.0" in client.get("/metrics").text
