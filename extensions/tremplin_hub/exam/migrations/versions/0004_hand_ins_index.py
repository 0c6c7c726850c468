"""An index for an exam's hand-ins (finals, exports) that skips its autosaves.

Revision ID: 0004
Revises: 0003

Building it on an existing store takes a few seconds per million records, once.
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade():
    op.create_index("records_by_kind", "records", ["course", "assignment", "kind", "user", "id"])


def downgrade():
    op.drop_index("records_by_kind", "records")
