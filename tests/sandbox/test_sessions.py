"""Replay the CDS Hooks Sandbox's Rx screens against the service (fixtures/sandbox-sessions/).

Each session runs against one app in the `sandbox` profile with authentication on: every call
carries a token the sandbox would send (ES384 with its published key, `aud` the exact URL, a
fresh `jti`), each request is the sandbox's own shape (emulator.RxForm), and the patient's data
is served as the sandbox's FHIR server would (prefetch filled from our templates, the rest
answered in memory). A step's expectations are the scenario table's (`expect`), judged the same
way; an accepted suggestion is applied as the sandbox applies it and as an every-action EHR
would, and sent as the sandbox's feedback. At the end `cds-service report` must count the
outcomes as they happened. A step marked `xfail` must fail as its reason says (strict).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cds_service.app import create_app
from cds_service.cli import cli
from cds_service.commands.jwt_tools import LoadedKey, load_key, mint_token
from cds_service.rules.types import INDICATOR_RANK
from cds_service.tools.expectations import compare
from cds_service.tools.fhir_memory import MemoryFhirTransport
from cds_service.tools.outcome import card_key_of, from_http
from cds_service.tools.request_builder import DEFAULT_FHIR_SERVER
from cds_service.tools.scenarios import build_scenario_request, patient_resources
from tests.conftest import CONFORMANCE, FIXTURES, check_response, make_settings
from tests.sandbox.emulator import (
    DRAFT_REFERENCE,
    USER,
    RxForm,
    apply_every_action,
    describe_orders,
)
from tests.sandbox.sessions import Session, Step, load_sessions

SESSIONS = load_sessions(FIXTURES / "sandbox-sessions")
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
BASE = "http://testserver"
# What the service calls a medication it cannot name (clinical/medications.py): a card saying
# it is a card about a draft that names no medication.
UNNAMED = "Unnamed medication"



@dataclass
class Replay:
    """One tester at the sandbox: the form, the last answer, and what went wrong so far."""

    session: Session
    client: TestClient
    transport: MemoryFhirTransport
    key: LoadedKey
    form: RxForm
    conditions: list[dict[str, Any]]
    last: dict[str, Any] = field(default_factory=dict)
    last_service: str = ""
    failures: list[str] = field(default_factory=list)
    xfailed: list[str] = field(default_factory=list)
    xpassed: list[str] = field(default_factory=list)
    closed: bool = False

    def close(self) -> None:
        """Stop the app (its shutdown flushes the served-card audit that `report` reads)."""
        if not self.closed:
            self.closed = True
            self.client.__exit__(None, None, None)

    def headers(self, path: str) -> dict[str, str]:
        token = mint_token(self.key, iss=SANDBOX_ISS, aud=BASE + path, jku=SANDBOX_JKU)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def call(self, hook: str) -> tuple[int, dict[str, Any]]:
        """What the sandbox sends for the form as it is now (Rx Sign: no reason, no selections)."""
        sign = hook == "order-sign"
        draft = self.form.draft(with_reason=not sign)
        scenario = self.session.scenario(
            hook, [draft], prefetch="full", fhir_server=DEFAULT_FHIR_SERVER,
            patch={"context.draftOrders.type": None, "context.userId": USER},
        )  # fmt: skip
        built = build_scenario_request(scenario)
        assert sign or built.body["context"]["selections"] == [DRAFT_REFERENCE]
        self.transport.source = built.fhir
        path = f"/cds-services/{built.service_id}"
        response = self.client.post(path, json=built.body, headers=self.headers(path))
        self.last, self.last_service = response.json(), built.service_id
        return response.status_code, self.last

    def feedback(self, item: dict[str, Any]) -> None:
        path = f"/cds-services/{self.last_service}/feedback"
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        response = self.client.post(
            path, json={"feedback": [item | {"outcomeTimestamp": stamp}]}, headers=self.headers(path)
        )
        assert response.status_code == 200, response.text

    def card(self, key: str) -> dict[str, Any]:
        found = [c for c in self.last.get("cards", []) if card_key_of(c) == key]
        assert found, f"no {key} card in the last answer to accept or dismiss"
        return found[0]


@pytest.fixture
def replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def start(session: Session) -> Replay:
        settings = make_settings(
            tmp_path, profile="sandbox", auth_required=True, public_base_url=BASE,
            fhir_allow_unauthenticated=True,
        )  # fmt: skip
        transport = MemoryFhirTransport()
        client = TestClient(create_app(settings, fhir_transport=transport))
        client.event_hooks["response"] = [check_response]
        client.__enter__()
        base = session.scenario("patient-view", [])
        resources, patient_id = patient_resources(base)
        client.app.state.cds.clock = lambda: base.as_of  # the injected clock
        started = Replay(
            session=session,
            client=client,
            transport=transport,
            key=load_key(CONFORMANCE / "sandbox" / "ecprivkey.pem", kid=SANDBOX_KID),
            form=RxForm(patient_id=patient_id, today=base.as_of),
            conditions=[r for r in resources if r.get("resourceType") == "Condition"],
        )
        opened.append(started)
        return started

    opened: list[Replay] = []
    yield start
    for started in opened:
        started.close()


def _judge(replay: Replay, step: Step, n: int, status: int, body: dict[str, Any]) -> None:
    """The step's expectations on the answer to its call; misses go to failures or xfailed."""
    reasons: list[str] = []
    if step.expect is not None:
        reasons += compare(step.expect, from_http(status, body))
    if step.draft_is_not_an_order:
        for card in body.get("cards", []):
            if UNNAMED.lower() in f"{card.get('summary')} {card.get('detail')}".lower():
                reasons.append(f"card {card_key_of(card)} is about a draft with no medication")
            for suggestion in card.get("suggestions") or []:
                if any(a.get("resourceId") == DRAFT_REFERENCE for a in suggestion["actions"]):
                    reasons.append(f"card {card_key_of(card)} acts on a draft with no medication")
    if step.at_most is not None:
        for card in body.get("cards", []):
            if INDICATOR_RANK[card["indicator"]] < INDICATOR_RANK[step.at_most]:
                reasons.append(f"{card['indicator']} card {card_key_of(card)}: more than {step.at_most}")
    where = f"step {n} ({step.do})"
    if step.xfail:
        (replay.xfailed if reasons else replay.xpassed).append(f"{where}: {step.xfail}")
    else:
        replay.failures += [f"{where}: {r}" for r in reasons]


def _accept(replay: Replay, step: Step, n: int) -> None:
    card = replay.card(str(step.card))
    chosen = [s for s in card.get("suggestions") or [] if str(step.label).lower() in s["label"].lower()]
    assert len(chosen) == 1, f"step {n}: one suggestion labelled like {step.label!r}, got {chosen}"
    suggestion = chosen[0]
    drafts = [replay.form.draft()] if replay.form.medication else []
    replay.feedback({"card": card["uuid"], "outcome": "accepted",
                     "acceptedSuggestions": [{"id": suggestion["uuid"]}]})  # fmt: skip
    if step.ehr_orders is not None:
        after = describe_orders(apply_every_action(drafts, suggestion))
        if after != step.ehr_orders:
            replay.failures.append(f"step {n}: an every-action EHR holds {after}, not {step.ehr_orders}")
    changed = replay.form.take_suggestion(suggestion)
    if step.sandbox_medication is not None:
        now = replay.form.medication[0] if replay.form.medication else ""
        if now != step.sandbox_medication:
            replay.failures.append(
                f"step {n}: the sandbox's draft is {now or 'empty'} ({replay.form.applied[-1]}), "
                f"not {step.sandbox_medication or 'empty'}"
            )
    if changed:  # the form changed: the sandbox calls order-select again
        status, body = replay.call("order-select")
        _judge(replay, step, n, status, body)
    elif step.expect is not None:
        replay.failures.append(f"step {n}: nothing changed, so the sandbox makes no call to judge")


def _run_step(replay: Replay, step: Step, n: int) -> None:
    form = replay.form
    if step.do == "open-rx-view":
        status, body = replay.call("order-select")
    elif step.do == "choose-condition":
        matches = [c["code"] for c in replay.conditions if c["code"]["coding"][0]["code"] == step.code]
        assert matches, f"step {n}: no Condition coded {step.code} in the patient's data"
        form.condition = matches[0]
        status, body = replay.call("order-select")
    elif step.do == "choose-medication":
        form.medication = (str(step.rxnorm), str(step.name))
        status, body = replay.call("order-select")
    elif step.do == "sign":
        status, body = replay.call("order-sign")
    elif step.do == "dismiss":
        card = replay.card(str(step.card))
        item: dict[str, Any] = {"card": card["uuid"], "outcome": "overridden"}
        if step.reason:
            offered = [r for r in card.get("overrideReasons") or [] if r["code"] == step.reason]
            assert offered, f"step {n}: {step.card} offers no override reason {step.reason}"
            item["overrideReason"] = {"reason": {"code": step.reason, "system": offered[0]["system"]}}
        replay.feedback(item)
        return
    else:
        _accept(replay, step, n)
        return
    _judge(replay, step, n, status, body)


def _report(tmp_path: Path) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(
        cli, ["report", "--json", "--database-url", f"sqlite:///{tmp_path}/cds.db"]
    )
    assert result.exit_code == 0, result.output
    return {row["rule"]: row for row in json.loads(result.stdout)["rules"]}


def test_there_are_sessions_for_each_step_kind() -> None:
    kinds = {step.do for session in SESSIONS for step in session.steps}
    assert kinds == {"open-rx-view", "choose-condition", "choose-medication",
                     "accept-suggestion", "dismiss", "sign"}  # fmt: skip


@pytest.mark.parametrize("session", SESSIONS, ids=[s.name for s in SESSIONS])
def test_sandbox_session(session: Session, replay: Any, tmp_path: Path) -> None:
    run: Replay = replay(session)
    for n, step in enumerate(session.steps, start=1):
        _run_step(run, step, n)
    run.close()
    rows = _report(tmp_path)
    for rule, want in session.report.items():
        row = rows.get(rule, {"accepted": 0, "overridden": 0})
        for name in ("accepted", "overridden"):
            expected = getattr(want, name)
            if expected is not None and row[name] != expected:
                run.failures.append(f"report: {rule} {name} {row[name]}, expected {expected}")
    assert not run.failures, "\n".join(run.failures)
    assert not run.xpassed, "passes now, remove the xfail: " + "; ".join(run.xpassed)
    if run.xfailed:
        pytest.xfail("; ".join(run.xfailed))


def test_a_session_file_with_a_typo_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "- name: x\n  description: x\n  source: synthetic\n  as_of: 2026-11-15\n"
        "  patient: {age: 60}\n  steps:\n    - do: choose-medication\n      rxnorm: '1'\n"
    )
    with pytest.raises(ValueError, match="choose-medication needs name"):
        load_sessions(tmp_path)


def test_the_sandbox_key_fixture_is_the_published_one() -> None:
    published = json.loads((CONFORMANCE / "sandbox" / "jwks.json").read_text())["keys"][0]
    key = load_key(CONFORMANCE / "sandbox" / "ecprivkey.pem", kid=SANDBOX_KID)
    assert key.key.as_dict(private=False)["x"] == published["x"]
    assert str(uuid.UUID(SANDBOX_KID)) == published["kid"]
