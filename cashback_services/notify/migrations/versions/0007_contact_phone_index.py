"""Contacts found by phone or email (FindContacts, the console's customer
search): an index on each within the merchant, so a search reads the matching
rows instead of every contact of the merchant.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("notify_contacts_by_phone", "notify_contacts", ["merchant_id", "phone_e164"])
    op.execute("CREATE INDEX notify_contacts_by_email ON notify_contacts (merchant_id, lower(email))")


def downgrade() -> None:
    op.drop_index("notify_contacts_by_email", table_name="notify_contacts")
    op.drop_index("notify_contacts_by_phone", table_name="notify_contacts")
