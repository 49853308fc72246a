"""`POST /cds-services/{id}/feedback` over HTTP (CDS Hooks 2.0 §Feedback; checklist §6, §14)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cds_service.app import create_app
from cds_service.store.tables import Feedback
from tests.builders import ICD10, hook_request, medication_request, service_url
from tests.conftest import CONFORMANCE, check_response, make_settings

SPEC = CONFORMANCE / "cds-hooks"
FEEDBACK = service_url("order-sign") + "/feedback"
SECRET = "PATIENT-SECRET-VALUE"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the tests that only send refused bodies (nothing is stored): an app takes
    about a second to start."""
    settings = make_settings(tmp_path_factory.mktemp("feedback"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.event_hooks["response"] = [check_response]
        yield client


def spec_example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SPEC / f"cds-hooks-spec-2.0.1__{name}.json").read_text())
    return body


def item(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "card": str(uuid.uuid4()),
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-25T10:00:00.000Z",
    }
    return base | fields


def post(client: TestClient, *items: dict[str, Any], url: str = FEEDBACK) -> Any:
    return client.post(url, json={"feedback": list(items)})


def stored_rows(client: TestClient) -> int:
    with client.app.state.cds.store.engine.connect() as conn:  # type: ignore[attr-defined]
        count: int = conn.execute(select(func.count()).select_from(Feedback)).scalar_one()
    return count


def problem(response: Any) -> tuple[str, list[str]]:
    issue = response.json()["issue"][0]
    return issue["details"]["text"], issue.get("expression", [])


@pytest.mark.parametrize("name", [
    "feedback-accepted-example",
    "feedback-overridden-no-reason-example",
    "feedback-overridden-with-reason-example",
])
def test_the_spec_examples_are_accepted(client: TestClient, name: str) -> None:
    response = client.post(FEEDBACK, json=spec_example(name))
    assert response.status_code == 200
    assert response.json() == {}
    assert stored_rows(client) == 1


def test_the_sandboxs_shapes_are_accepted(client: TestClient) -> None:
    # Checklist §10/§14: one item per POST; the reason has no display (and may lack system),
    # never a userComment; the timestamp is JavaScript's toISOString().
    dismissed = item(overrideReason={"reason": {"code": "not-relevant",
                                                "system": "https://cds.example.org/reason"}})
    bare_reason = item(overrideReason={"reason": {"code": "not-relevant"}})
    accepted = item(outcome="accepted", acceptedSuggestions=[{"id": str(uuid.uuid4())}])
    for body in (dismissed, bare_reason, accepted):
        assert post(client, body).status_code == 200
    assert stored_rows(client) == 3


def test_extra_fields_and_extensions_are_ignored(client: TestClient) -> None:
    body = item(extension={"com.example.x": {"a": 1}}, somethingNew=True)
    response = client.post(FEEDBACK, json={"feedback": [body], "extension": {}})
    assert response.status_code == 200


def test_a_repeated_post_is_stored_once(client: TestClient) -> None:
    body = spec_example("feedback-overridden-with-reason-example")
    for _ in range(3):
        assert client.post(FEEDBACK, json=body).status_code == 200
    assert stored_rows(client) == 1
    metrics = client.get("/metrics").text
    assert 'cds_feedback_total{outcome="overridden",rule="unknown"} 1.0' in metrics


def test_the_same_card_accepted_then_overridden_keeps_both(client: TestClient) -> None:
    card = str(uuid.uuid4())
    post(client, item(card=card, outcome="accepted", acceptedSuggestions=[{"id": "s"}]))
    post(client, item(card=card, outcomeTimestamp="2026-11-25T10:01:00Z"))
    assert stored_rows(client) == 2


def test_accepted_needs_accepted_suggestions(shared: TestClient) -> None:
    for suggestions in (None, []):
        body = item(outcome="accepted")
        if suggestions is not None:
            body["acceptedSuggestions"] = suggestions
        response = post(shared, body)
        assert response.status_code == 400
        assert problem(response)[1] == ["feedback.0.acceptedSuggestions"]


def test_an_unknown_outcome_is_refused_without_echoing_it(shared: TestClient) -> None:
    response = post(shared, item(), item(outcome=SECRET))
    assert response.status_code == 400
    text, expression = problem(response)
    assert expression == ["feedback.1.outcome"]
    assert SECRET not in response.text and "accepted" in text


@pytest.mark.parametrize("timestamp", [
    "yesterday", "2020-12-11", "2020-12-11T00:00:00", "2020-13-11T00:00:00Z", 1607644800, None,
])
def test_a_bad_outcome_timestamp_is_refused(shared: TestClient, timestamp: Any) -> None:
    response = post(shared, item(outcomeTimestamp=timestamp))
    assert response.status_code == 400
    assert problem(response)[1] == ["feedback.0.outcomeTimestamp"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "feedback"),
    ({"feedback": []}, "feedback"),
    ({"feedback": "accepted"}, "feedback"),
    ({"feedback": [item() for _ in range(101)]}, "feedback"),
    ({"feedback": [{"outcome": "overridden", "outcomeTimestamp": "2026-11-25T10:00:00Z"}]},
     "feedback.0.card"),
    ({"feedback": [item(overrideReason={"userComment": "x" * 2001})]},
     "feedback.0.overrideReason.userComment"),
    ({"feedback": [item(overrideReason={"reason": {"system": "s"}})]},
     "feedback.0.overrideReason.reason.code"),
])
def test_malformed_feedback_is_400_naming_the_field(
    shared: TestClient, body: dict[str, Any], field: str
) -> None:
    response = shared.post(FEEDBACK, json=body)
    assert response.status_code == 400
    assert field in problem(response)[1]
    assert stored_rows(shared) == 0


def test_a_body_that_is_not_json_is_415(shared: TestClient) -> None:
    response = shared.post(FEEDBACK, content=b"feedback=1",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415


def test_broken_json_is_400(shared: TestClient) -> None:
    response = shared.post(FEEDBACK, content=b'{"feedback": [',
                           headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_without_a_token_every_service_id_answers_the_same_401(
    client_factory: Callable[..., TestClient], settings_factory: Callable[..., Any]
) -> None:
    """The token is checked before the id: ids cannot be probed without one (issue 14)."""
    secured = client_factory(settings_factory(auth_required=True, profile="sandbox"))
    body = spec_example("feedback-accepted-example")
    unknown = secured.post("/cds-services/nope/feedback", json=body)
    known = secured.post(FEEDBACK, json=body)
    assert unknown.status_code == known.status_code == 401
    assert unknown.content == known.content


def test_feedback_is_joined_to_the_rule_that_served_the_card(client: TestClient) -> None:
    quinine = medication_request("997010", "quinine sulfate 324 MG Oral Capsule",
                                 reason=(ICD10, "R25.2"))
    call = client.post(service_url("order-sign"), json=hook_request("order-sign",
                                                                   drafts=[quinine]))
    assert call.status_code == 200
    cards = call.json()["cards"]
    if not cards:
        pytest.skip("the quinine-for-cramps rule did not fire; nothing to give feedback on")
    card = cards[0]
    store = client.app.state.cds.store  # type: ignore[attr-defined]
    rule = store.rule_for_cards([card["uuid"]])[card["uuid"]]

    reasons = card.get("overrideReasons") or [{"code": "x", "system": "https://r"}]
    reason = {k: reasons[0][k] for k in ("code", "system")}  # echoed without display
    assert post(client, item(card=card["uuid"], overrideReason={"reason": reason})).status_code \
        == 200

    (row,) = [r for r in store.report() if r.rule_id == rule]
    assert (row.served, row.overridden, row.accepted) == (1, 1, 0)
    assert (row.reasons[0].code, row.reasons[0].count) == (reason["code"], 1)
    metrics = client.get("/metrics").text
    assert f'cds_feedback_total{{outcome="overridden",rule="{rule}"}} 1.0' in metrics

