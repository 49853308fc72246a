"""Last line of defence: no token reaches a log line, whatever a caller passed in.

Masks the value of any key that names a credential, and any JWT or `Bearer ...` inside any
string (messages, tracebacks, nested lists and dicts). Code should never log these in the first
place; this catches the day it does.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import MutableMapping
from typing import Any

MASK = "[REDACTED]"

SECRET_KEYS = frozenset({
    "authorization",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "jwt",
    "password",
    "secret",
    "client_secret",
    "fhirauthorization",
})

# A JWS/JWT: base64url header starting `eyJ` (`{"`), payload, signature (may be empty).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_MAX_DEPTH = 8


_UUID = re.compile(r"(?:urn:uuid:)?[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def loggable_id(value: str) -> str:
    """A caller-chosen id (hookInstance, a feedback card id) as a log line may show it: a UUID,
    the form the spec asks for, as sent; anything else as a short digest, so lines still
    correlate but free text (which could be PHI) never reaches the log."""
    if _UUID.fullmatch(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _is_secret_name(key)


@functools.lru_cache(maxsize=4096)  # log keys are field names: a small set, seen again and again
def _is_secret_name(key: str) -> bool:
    return key.lower().replace("-", "_") in SECRET_KEYS


def scrub_text(text: str) -> str:
    """Mask JWTs and bearer credentials inside free text."""
    if "eyJ" not in text and "earer" not in text:  # the common case: nothing to do, fast
        return text
    return _BEARER.sub(r"\1 " + MASK, _JWT.sub(MASK, text))


# Exact types that hold no text: returned as they are, before the isinstance tests below.
_PLAIN = frozenset({int, float, bool, type(None)})


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy of `value` with secrets masked (dicts, lists and tuples walked to a fixed depth)."""
    kind = type(value)
    if kind is str:  # the usual case: scrub_text's own test inline
        return value if "eyJ" not in value and "earer" not in value else scrub_text(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if depth >= _MAX_DEPTH:
        return value
    inner = depth + 1
    if isinstance(value, dict):
        return {k: MASK if is_secret_key(k) else scrub(v, inner) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [scrub(v, inner) for v in value]  # a list comprehension: no generator frames
        return items if kind is list else type(value)(items)
    return value


# Every SECRET_KEYS name, lowercased, contains one of these words (with "-" or "_" between its
# parts), and scrub_text changes only text holding "eyJ" or "earer": lowercased, both too.
_MARKERS = (b"authorization", b"token", b"jwt", b"password", b"secret", b"eyj", b"earer")


def may_need_redaction(json_text: bytes) -> bool:
    """False only when `redact_processor` would leave the event serialised as `json_text`
    unchanged: ASCII text holding none of the markers. JSON escapes no letter, so a key or a
    string holding a marker shows it in the text; non-ASCII text is always True (Unicode
    lowercasing can make a secret key out of other letters). For skipping the walk."""
    if not json_text.isascii():
        return True
    text = json_text.lower()
    return any(marker in text for marker in _MARKERS)


def redact_processor(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret keys and token-looking values in the whole event."""
    for key, value in list(event_dict.items()):
        event_dict[key] = MASK if is_secret_key(key) else scrub(value)
    return event_dict
