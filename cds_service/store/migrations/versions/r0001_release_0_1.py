"""The schema of release 0.1.0, which created its tables with `create_all` and no version.

Each table (and each of its indexes) is created only where it is missing, so this revision
takes an empty database, a database made by 0.1.0 (all three tables, no `alembic_version`),
or an older one that lacks a table, to the same place.

Revision ID: r0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None

_AWARE = sa.DateTime(timezone=True)


def _tables() -> list[tuple[str, list[sa.Column[object]], list[tuple[str, list[str]]]]]:
    """(table, columns, indexes) exactly as release 0.1.0's models declared them."""
    return [
        (
            "served_cards",
            [
                sa.Column("card_uuid", sa.String(64), primary_key=True),
                sa.Column("service_id", sa.String(128), nullable=False),
                sa.Column("hook_instance", sa.String(256), nullable=False),
                sa.Column("rule_id", sa.String(128), nullable=False),
                sa.Column("indicator", sa.String(16), nullable=False),
                sa.Column("served_at", _AWARE, nullable=False),
            ],
            [("ix_served_cards_rule_id", ["rule_id"]),
             ("ix_served_cards_served_at", ["served_at"])],
        ),
        (
            "feedback",
            [
                sa.Column("id", sa.String(64), primary_key=True),
                sa.Column("service_id", sa.String(128), nullable=False),
                sa.Column("card_uuid", sa.String(64), nullable=False),
                sa.Column("outcome", sa.String(16), nullable=False),
                sa.Column("accepted_suggestions", sa.Text(), nullable=True),
                sa.Column("override_system", sa.String(256), nullable=True),
                sa.Column("override_code", sa.String(128), nullable=True),
                sa.Column("override_display", sa.String(512), nullable=True),
                sa.Column("override_comment", sa.Text(), nullable=True),
                sa.Column("outcome_at", _AWARE, nullable=False),
                sa.Column("received_at", _AWARE, nullable=False),
            ],
            [("ix_feedback_card_uuid", ["card_uuid"]),
             ("ix_feedback_received_at", ["received_at"])],
        ),
        (
            "seen_jwt",
            [
                sa.Column("key", sa.String(128), primary_key=True),
                sa.Column("expires_at", _AWARE, nullable=False),
            ],
            [("ix_seen_jwt_expires", ["expires_at"])],
        ),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for table, columns, indexes in _tables():
        if table not in existing:
            op.create_table(table, *columns)
            have: set[str] = set()
        else:
            have = {str(index["name"]) for index in inspector.get_indexes(table)}
        for name, indexed in indexes:
            if name not in have:
                op.create_index(name, table, indexed)


def downgrade() -> None:
    raise NotImplementedError("downgrades are by restore from backup (docs/deploying.md)")
