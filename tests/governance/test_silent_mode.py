"""Silent (shadow) mode, off, per hook, and the card budget, through the HTTP API, the audit,
`report` and `check`: a silenced rule is still computed and audited, never shown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from cds_service.cli import cli
from cds_service.governance.attributes import EXTENSION_KEY
from cds_service.store.tables import ServedCard
from tests.conftest import FIXTURES, ROOT, make_settings

REQUEST = json.loads((FIXTURES / "requests" / "quinine-order-select.json").read_text())
ORDER_SELECT = "/cds-services/muscle-cramps-order-select"


def site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def app(client_factory: Callable[..., TestClient], tmp_path: Path, text: str) -> TestClient:
    return client_factory(make_settings(tmp_path, site_file=site(tmp_path, text)))


def audit(client: TestClient) -> list[tuple[str, bool]]:
    store = client.app.state.cds.store  # type: ignore[attr-defined]
    store.flush_served()
    with store.engine.connect() as conn:
        rows = conn.execute(select(ServedCard.rule_id, ServedCard.shown)).all()
    return sorted((rule, shown) for rule, shown in rows)


def rules_of(response: Any) -> list[str]:
    return sorted(card["source"]["topic"]["code"] for card in response.json()["cards"])


def test_by_default_the_request_shows_both_cards(client: TestClient) -> None:
    assert rules_of(client.post(ORDER_SELECT, json=REQUEST)) == [
        "cramp-workup", "quinine-for-cramps"
    ]


def test_a_silent_rule_is_computed_and_audited_not_shown(
    client_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = app(client_factory, tmp_path, '[rules]\n"quinine-for-cramps" = "silent"\n')
    response = client.post(ORDER_SELECT, json=REQUEST)
    assert rules_of(response) == ["cramp-workup"], "the response omits it"
    assert audit(client) == [("cramp-workup", True), ("quinine-for-cramps", False)]

    url = client.app.state.cds.settings.database_url  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli, ["report", "--json", "--database-url", url])
    rows = {r["rule"]: (r["served"], r["silent"]) for r in json.loads(result.output)["rules"]}
    assert rows == {"cramp-workup": (1, 0), "quinine-for-cramps": (0, 1)}, "report counts it"

    discovery = client.get("/cds-services").json()["services"]
    modes = {r["rule"]: r["mode"] for s in discovery if s["hook"] == "order-select"
             for r in s["extension"][EXTENSION_KEY]["rules"]}
    assert modes["quinine-for-cramps"] == "silent" and modes["cramp-workup"] == "on"


def test_a_rule_off_is_neither_shown_nor_audited_and_modes_are_per_hook(
    client_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = app(client_factory, tmp_path, '[rules]\n"quinine-for-cramps" = '
                 '{ "order-select" = "off", "order-sign" = "silent" }\n')
    assert rules_of(client.post(ORDER_SELECT, json=REQUEST)) == ["cramp-workup"]
    assert audit(client) == [("cramp-workup", True)]
    discovery = client.get("/cds-services").json()["services"]
    listed = {s["hook"]: {r["rule"] for r in s["extension"][EXTENSION_KEY]["rules"]}
              for s in discovery}
    assert "quinine-for-cramps" not in listed["order-select"], "off: not part of the service"
    assert "quinine-for-cramps" in listed["order-sign"] and "quinine-for-cramps" in \
        listed["patient-view"]


def test_the_budget_limits_cards_per_hook(
    client_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = app(client_factory, tmp_path, '[budget]\n"order-select" = 1\n')
    cards = client.post(ORDER_SELECT, json=REQUEST).json()["cards"]
    assert [c["indicator"] for c in cards] == ["warning"], "the most urgent card is kept"


@pytest.mark.parametrize("site_text", [None, '[rules]\n"quinine-for-cramps" = "silent"\n'])
def test_check_runs_the_scenarios_under_a_site_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site_text: str | None
) -> None:
    monkeypatch.chdir(ROOT)
    if site_text:
        monkeypatch.setenv("CDS_SITE_FILE", str(site(tmp_path, site_text)))
    result = CliRunner().invoke(cli, ["check", "fixtures/scenarios", "--json", "-k", "quinine"])
    body = json.loads(result.output)
    fired = {c["rule"] for s in body["scenarios"] for c in s["cards"]}
    if site_text is None:
        assert result.exit_code == 0 and "quinine-for-cramps" in fired
    else:
        assert result.exit_code == 1 and "quinine-for-cramps" not in fired
        assert any("quinine-for-cramps" in reason for s in body["scenarios"]
                   for reason in s["reasons"])
