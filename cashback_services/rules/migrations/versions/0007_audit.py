"""The audit trail: who (key id, never the key) changed what in rules, and when
(cashback_kit.audit; issue 15, point 10).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from cashback_services.rules.adapters import tables as t

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Made from the kit's definition (with its index), so every service's table is the same shape.
    t.audit.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_table("rules_audit", if_exists=True)
