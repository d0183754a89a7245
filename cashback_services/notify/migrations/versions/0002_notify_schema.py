"""Notify schema: contacts, templates, policies, opt-outs, reminder campaigns and
runs, the stream cursor and inbox, and deliveries.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from cashback_services.notify.adapters import tables as t

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The first schema is exactly tables.py; later revisions must spell out their changes.
    t.metadata.create_all(op.get_bind())


def downgrade() -> None:
    t.metadata.drop_all(op.get_bind())
