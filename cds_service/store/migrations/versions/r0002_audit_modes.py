"""Served cards record their card key and whether they were shown (a rule in silent mode is
audited, not shown); feedback keeps the rule behind its card, so it outlives the pruned audit.

Additive only: release 0.1.0 keeps working on the upgraded schema (rolling upgrades).

Revision ID: r0002
Revises: r0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("served_cards", sa.Column("card_key", sa.String(128), nullable=True))
    op.add_column(
        "served_cards",
        sa.Column("shown", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column("feedback", sa.Column("rule_id", sa.String(128), nullable=True))
    # Feedback already stored learns its rule from the audit while the audit still has it.
    op.execute(
        "UPDATE feedback SET rule_id = (SELECT served_cards.rule_id FROM served_cards "
        "WHERE served_cards.card_uuid = feedback.card_uuid)"
    )


def downgrade() -> None:
    raise NotImplementedError("downgrades are by restore from backup (docs/deploying.md)")
