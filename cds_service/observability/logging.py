"""One log format for everything in the process: ours, uvicorn's, and any library's.

structlog renders; stdlib `logging` stays the transport, so `logging.getLogger(__name__)` lines
(with their `extra=` fields), uvicorn's lines and `structlog.get_logger()` lines all come out as
the same one-line JSON objects, through the same redaction.

`log_event` writes one line per hook call (the `hook_call` line) straight to the handler's
stream, rendered by the same processors, when nothing but our handler would see the record:
the same line, without building a `LogRecord`, running the handler chain and copying the
record in structlog's formatter (together most of the cost of a line).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from structlog.typing import Processor

from cds_service.observability.redaction import may_need_redaction, redact_processor

# Libraries whose INFO lines would carry FHIR URLs (patient ids): keep them to warnings.
# httpx/httpcore INFO lines carry FHIR URLs (patient ids); uvicorn's access line would
# duplicate our one `hook_call` line per request at a cost on the hot path.
_QUIET = ("httpx", "httpcore", "hpack", "uvicorn.access")
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now (test capture swaps it between tests)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _drop_noise(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    return event_dict


_TIMESTAMP = structlog.processors.TimeStamper(fmt="iso", utc=True)


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _TIMESTAMP,
    ]


@dataclass(frozen=True, slots=True)
class _Direct:
    """What `log_event` needs from the configuration `configure_logging` installed."""

    handler: logging.Handler
    final: tuple[Processor, ...]  # the formatter's processors after its bookkeeping one
    json: bool


_direct: _Direct | None = None


def log_event(logger: logging.Logger, level: int, event: str, fields: Mapping[str, Any]) -> None:
    """`logger.log(level, event, extra=fields)`, written directly when only our handler would
    handle it (production): the same line, keys in the same order, the same redaction, at the
    same levels. Anything else (no configuration yet, another handler or a filter on the way,
    as pytest's capture adds) takes the stdlib path."""
    if not logger.isEnabledFor(level):
        return
    direct = _direct
    if direct is None or not _only_ours(logger, direct.handler):
        logger.log(level, event, extra=dict(fields))
        return
    method = logging.getLevelName(level).lower()
    ed: dict[str, Any] = {"event": event}
    structlog.contextvars.merge_contextvars(None, method, ed)
    ed["level"] = method
    ed["logger"] = logger.name
    ed.update(fields)
    _TIMESTAMP(None, method, ed)
    line: Any = _clean_json(ed) if direct.json else None
    if line is None:
        line = ed
        for processor in direct.final:
            line = processor(None, method, line)
    stream = sys.stderr  # as _StderrHandler writes
    direct.handler.acquire()
    try:
        stream.write(f"{line}\n")
        stream.flush()
    finally:
        direct.handler.release()


def _clean_json(ed: dict[str, Any]) -> str | None:
    """The JSON line when the final processors would only render it (nothing to drop, format or
    redact: `may_need_redaction` says so from the rendered text); else None."""
    if "exc_info" in ed or "color_message" in ed:
        return None
    try:
        text = _json_bytes(ed)  # what the JSON renderer makes of it, when nothing changes it
    except orjson.JSONEncodeError:
        return None  # the processors' path says what is wrong, as for any other line
    return None if may_need_redaction(text) else text.decode()


def _only_ours(logger: logging.Logger, ours: logging.Handler) -> bool:
    """Whether `ours`, on the root logger, is the only handler or filter the record would meet."""
    node: logging.Logger | None = logger
    while node is not None:
        if node.filters:
            return False
        if node.parent is None:  # the root
            return len(node.handlers) == 1 and node.handlers[0] is ours and not ours.filters
        if node.handlers or not node.propagate:
            return False
        node = node.parent
    return False


def _dumps(event: Any, **_: Any) -> str:
    """orjson for the per-call log line: several times cheaper than json.dumps."""
    return _json_bytes(event).decode()


def _json_bytes(event: Any) -> bytes:
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS)


def configure_logging(level: str, json: bool) -> None:
    """Route all logging through structlog at `level`. Safe to call again (each test app does):
    it replaces only the handler it installed earlier, never pytest's or anyone else's."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    final: tuple[Processor, ...] = (
        _drop_noise,
        structlog.processors.format_exc_info,
        redact_processor,  # last before rendering: sees the final event, tracebacks included
        renderer,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("cds_service")
    global _direct
    _direct = _Direct(handler, final, json)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "cds_service"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _UVICORN:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
