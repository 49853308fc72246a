"""The CDS Hooks 2.0 response rules, checked on every response body the suite produces.

`tests/conftest.py` installs `check_response` as an httpx response hook on every test client,
and the CLI tests call it on `--json` output, so no test can see a non-conformant response
without failing.
"""

from __future__ import annotations

import uuid
from typing import Any

from cds_service.cdshooks.response import CdsResponse

_OPTIONAL_CARD_FIELDS = ("detail", "suggestions", "selectionBehavior", "overrideReasons", "links")


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def assert_conformant_cds_response(body: Any) -> None:
    """Raise AssertionError naming the broken rule."""
    assert isinstance(body, dict) and isinstance(body.get("cards"), list), "cards array required"
    CdsResponse.model_validate(body)  # the typed model enforces the card rules
    seen: set[str] = set()
    for card in body["cards"]:
        assert len(card["summary"]) < 140, "summary must be under 140 characters"
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"], "source.label required"
        assert _is_uuid(card.get("uuid")), "every card carries a uuid (feedback needs it)"
        assert card["uuid"] not in seen, "card uuids are unique"
        seen.add(card["uuid"])
        for name in _OPTIONAL_CARD_FIELDS:
            if name in card:
                assert card[name] not in (None, "", [], {}), f"empty optional field {name} sent"
        for suggestion in card.get("suggestions", []):
            assert "selectionBehavior" in card, "suggestions need selectionBehavior"
            assert _is_uuid(suggestion.get("uuid")), "every suggestion carries a uuid"
            assert suggestion["uuid"] not in seen
            seen.add(suggestion["uuid"])
            for action in suggestion.get("actions", []):
                assert action.get("description"), "actions carry a description"
                if action["type"] == "delete":
                    assert action.get("resourceId") and "resource" not in action
                else:
                    assert isinstance(action.get("resource"), dict)
        for reason in card.get("overrideReasons", []):
            assert reason.get("display"), "override reasons need a display"
        for link in card.get("links", []):
            assert link["type"] in ("absolute", "smart")
            if "appContext" in link:
                assert link["type"] == "smart"
    indicators = [c["indicator"] for c in body["cards"]]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert indicators == sorted(indicators, key=rank.__getitem__), "critical cards come first"


def assert_operation_outcome(body: Any) -> None:
    assert body.get("resourceType") == "OperationOutcome", body
    issues = body.get("issue")
    assert isinstance(issues, list) and issues
    for issue in issues:
        assert issue["severity"] in ("fatal", "error", "warning", "information")
        assert issue["code"]
    text = str(body)
    assert "Traceback" not in text and 'File "' not in text, "no stack traces in bodies"
