"""Instants as timestamptz: the integer microseconds (kept so SQLite and
PostgreSQL compared them alike) become timestamps, converted in place, exactly
(an interval of whole microseconds, no floating point on the way).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# table -> its instant columns
COLUMNS = {
    "rules_campaigns": ("created_at", "updated_at"),
    "rules_campaign_versions": ("created_at",),
    "rules_orders": ("placed_at", "created_at"),
    "rules_events": ("created_at",),
    "rules_refunds": ("created_at",),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        changes = ", ".join(
            f"ALTER COLUMN {c} TYPE timestamptz USING TIMESTAMPTZ 'epoch' + {c} * INTERVAL '1 microsecond'"
            for c in columns)
        op.execute(f"ALTER TABLE {table} {changes}")


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        changes = ", ".join(
            f"ALTER COLUMN {c} TYPE bigint USING ((EXTRACT(EPOCH FROM {c} - TIMESTAMPTZ 'epoch') * 1000000)::bigint)"
            for c in columns)
        op.execute(f"ALTER TABLE {table} {changes}")
