"""Indexes for the reads that now go by exam in one query (exports, the home page, the audit log).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.create_index("accommodations_by_exam", "accommodations", ["course", "assignment", "id"])
    op.create_index("audit_by_exam", "audit", ["course", "assignment", "id"])


def downgrade():
    op.drop_index("audit_by_exam", "audit")
    op.drop_index("accommodations_by_exam", "accommodations")
