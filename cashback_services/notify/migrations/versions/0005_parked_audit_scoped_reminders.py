"""Parked events, the audit trail, reminder campaign ids scoped by merchant.

- notify_parked_events: wallet events that could not be processed, with their error.
- notify_audit: who (key id) changed what, when (cashback_kit.audit).
- notify_reminders: primary key (merchant_id, campaign_id), so two merchants may use one id.

0002 creates tables.py as it is now, so on a new database these already exist:
every step here is if-not-exists (the primary key is dropped and made again either way).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from cashback_services.notify.adapters import tables as t

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    t.parked.create(bind, checkfirst=True)
    t.audit.create(bind, checkfirst=True)
    op.create_index("ix_notify_parked_merchant", "notify_parked_events", ["merchant_id", "parked_at"],
                    if_not_exists=True)
    op.create_index("ix_notify_audit_merchant", "notify_audit", ["merchant_id", "id"], if_not_exists=True)
    op.execute(sa.text("ALTER TABLE notify_reminders DROP CONSTRAINT IF EXISTS notify_reminders_pkey"))
    op.execute(sa.text("ALTER TABLE notify_reminders ADD CONSTRAINT notify_reminders_pkey "
                       "PRIMARY KEY (merchant_id, campaign_id)"))


def downgrade() -> None:
    op.execute(sa.text("ALTER TABLE notify_reminders DROP CONSTRAINT IF EXISTS notify_reminders_pkey"))
    op.execute(sa.text("ALTER TABLE notify_reminders ADD CONSTRAINT notify_reminders_pkey PRIMARY KEY (campaign_id)"))
    op.drop_table("notify_audit", if_exists=True)
    op.drop_table("notify_parked_events", if_exists=True)
