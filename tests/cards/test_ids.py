"""Card, suggestion and resource ids are random version-4 UUIDs in their canonical text form."""

from __future__ import annotations

import uuid

from cds_service.cards.ids import new_id


def test_new_id_is_a_canonical_random_uuid() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text
