"""A declared Content-Length, read the same way wherever a body size is capped (our request
body, FHIR answers, JWKS answers)."""

from __future__ import annotations


def declared_length(value: str | None) -> int | None:
    """The header's byte count; None when absent or not plain ASCII digits (`str.isdigit()`
    accepts '²', which `int()` refuses). The streamed byte count still enforces the cap."""
    return int(value) if value and value.isascii() and value.isdigit() else None
