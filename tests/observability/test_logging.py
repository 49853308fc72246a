"""JSON logs for everything in the process, and no token in any of them."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.observability.logging import configure_logging, log_event
from cds_service.observability.redaction import (
    MASK,
    SECRET_KEYS,
    may_need_redaction,
    redact_processor,
    scrub_text,
)
from tests.observability.conftest import json_lines

JWT = "eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL3NhbmRib3gifQ.c2ln"


def test_stdlib_lines_become_json_with_their_extra_fields(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    logging.getLogger("cds_service.api").info("served %d card(s)", 2, extra={"service": "s"})
    (entry,) = json_lines(json_logs)
    assert entry["event"] == "served 2 card(s)"
    assert entry["service"] == "s" and entry["logger"] == "cds_service.api"
    assert entry["level"] == "info" and entry["timestamp"].endswith("Z")


def test_uvicorn_lines_are_json_too(json_logs: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("uvicorn.error").info(
        "Started server process", extra={"color_message": "\x1b[32mStarted\x1b[0m"}
    )
    (entry,) = json_lines(json_logs)
    assert entry["event"] == "Started server process" and "color_message" not in entry


def test_structlog_lines_share_the_format(json_logs: pytest.CaptureFixture[str]) -> None:
    structlog.get_logger("cds_service.x").info("hello", rule="magnesium-low")
    (entry,) = json_lines(json_logs)
    assert (entry["event"], entry["rule"], entry["logger"]) == ("hello", "magnesium-low",
                                                               "cds_service.x")


@pytest.mark.parametrize("key", ["authorization", "Authorization", "access_token", "token",
                                 "jwt", "password", "refresh_token"])
def test_secret_keys_are_masked(json_logs: pytest.CaptureFixture[str], key: str) -> None:
    logging.getLogger("t").info("x", extra={key: "s3cret-value"})
    (entry,) = json_lines(json_logs)
    assert entry[key] == MASK


def test_jwts_are_masked_wherever_they_appear(json_logs: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("t").info("refused %s", JWT, extra={
        "header": f"Bearer {JWT}", "nested": {"list": [JWT], "fhirAuthorization": {"a": 1}},
    })
    structlog.get_logger("t").warning("again", value=JWT)
    text = json_logs.readouterr().err
    assert JWT not in text and "eyJ" not in text
    assert text.count(MASK) >= 4


def test_tracebacks_are_scrubbed(json_logs: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        logging.getLogger("t").exception("failed")
    (entry,) = json_lines(json_logs)
    assert "ValueError" in entry["exception"] and JWT not in entry["exception"]


def test_fhir_client_info_lines_are_silenced(json_logs: pytest.CaptureFixture[str]) -> None:
    # httpx logs every request URL at INFO: FHIR URLs carry patient ids.
    logging.getLogger("httpx").info("HTTP Request: GET https://fhir.example.org/Patient/123")
    assert json_lines(json_logs) == []


def test_configuring_twice_keeps_one_handler_and_pytests(json_logs: pytest.CaptureFixture[str],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("INFO", json=True)
    root = logging.getLogger()
    assert [h.get_name() for h in root.handlers].count("cds_service") == 1
    logging.getLogger("t").warning("once")
    assert len(json_lines(json_logs)) == 1
    assert "once" in caplog.text


def test_console_format_for_humans(json_logs: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", json=False)
    logging.getLogger("t").debug("plain", extra={"token": "abc"})
    text = json_logs.readouterr().err
    assert "plain" in text and "abc" not in text and not text.startswith("{")


def test_scrub_leaves_ordinary_text_alone() -> None:
    assert scrub_text("magnesium 0.6 mmol/L, eyJ alone") == "magnesium 0.6 mmol/L, eyJ alone"
    assert redact_processor(None, "info", {"event": "ok", "n": 3}) == {"event": "ok", "n": 3}


# --- log_event: the per-call line written without a LogRecord --------------------------------

CLEAN = {"hookInstance": "sha256:0123456789abcdef", "status": 200, "rules": ["a", "b"],
         "prefetch": {"supplied": ["patient"], "failed": []}, "fhir_ms": None, "ms": 1.5}
FIELDS = CLEAN | {"note": f"Bearer {JWT}", "nested": {"Access-Token": "x", "deep": [(JWT, 1)]}}


@contextmanager
def only_ours() -> Iterator[logging.Logger]:
    """Production's handlers: ours alone on the root (pytest's capture handlers, which it adds
    for each test phase, set aside for the block)."""
    root = logging.getLogger()
    others = [h for h in root.handlers if h.get_name() != "cds_service"]
    for handler in others:
        root.removeHandler(handler)
    try:
        yield logging.getLogger("cds_service.calls")
    finally:
        for handler in others:
            root.addHandler(handler)
        ours = [h for h in root.handlers if h.get_name() == "cds_service"]
        for handler in ours:
            root.removeHandler(handler)
        structlog.reset_defaults()


def without_time(line: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "TIME", line)


@pytest.mark.parametrize("fields", [CLEAN, FIELDS], ids=["clean", "with-secrets"])
@pytest.mark.parametrize("json", [True, False])
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_log_event_writes_what_the_stdlib_path_writes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, json: bool, level: int,
    fields: dict[str, Any],
) -> None:
    configure_logging("INFO", json=json)
    with only_ours() as logger, structlog.contextvars.bound_contextvars(request_id="r-1"):
        logger.log(level, "hook_call", extra=dict(fields))
        stdlib_line = capsys.readouterr().err
        with monkeypatch.context() as patch:
            patch.setattr(logging.Logger, "log", None)  # the direct path must not need it
            log_event(logger, level, "hook_call", fields)
        direct_line = capsys.readouterr().err
    assert without_time(direct_line) == without_time(stdlib_line)
    assert stdlib_line.count("\n") == 1 and JWT not in direct_line and "r-1" in direct_line


SECRET_VARIANTS = sorted({
    form for key in SECRET_KEYS
    for form in (key, key.upper(), key.title(), key.replace("_", "-"), key.replace("_", "-").upper())
})


@pytest.mark.parametrize("key", SECRET_VARIANTS)
def test_every_secret_key_form_is_seen_in_the_text(key: str) -> None:
    event = {"event": "x", "deep": [{"a": {key: 1}}]}
    assert redact_processor(None, "", dict(event)) != event
    assert may_need_redaction(orjson.dumps(event))


def test_tokens_and_unicode_are_seen_in_the_text() -> None:
    for value in (JWT, "BEARER abc", "Bearer abc", "tokKen", "café"):
        assert may_need_redaction(orjson.dumps({"v": value})), value
    assert may_need_redaction(orjson.dumps({"TOKEN": 1}))  # Kelvin sign: "token" lowercased
    assert not may_need_redaction(orjson.dumps(CLEAN))


_KEYS = st.one_of(st.text(max_size=12), st.sampled_from(SECRET_VARIANTS))
_TEXT = st.one_of(st.text(max_size=20), st.sampled_from([JWT, "Bearer x", "a eyJx.y.z b"]))
_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
              st.floats(allow_nan=False), _TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_text_without_markers_means_redaction_changes_nothing(event: dict[str, Any]) -> None:
    """The direct JSON path skips the redaction walk only when it would change nothing."""
    if not may_need_redaction(orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)):
        assert redact_processor(None, "", dict(event)) == event


def test_log_event_keeps_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", json=True)
    with only_ours() as logger:
        log_event(logger, logging.INFO, "hook_call", FIELDS)
        assert capsys.readouterr().err == ""
        log_event(logger, logging.WARNING, "hook_call", FIELDS)
    assert '"level":"warning"' in capsys.readouterr().err


def test_log_event_reaches_any_other_handler(json_logs: pytest.CaptureFixture[str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    log_event(logging.getLogger("cds_service.calls"), logging.INFO, "hook_call", FIELDS)
    (record,) = [r for r in caplog.records if r.getMessage() == "hook_call"]
    assert record.rules == ["a", "b"]  # type: ignore[attr-defined]
    (entry,) = json_lines(json_logs)
    assert entry["event"] == "hook_call" and JWT not in str(entry)
