"""The exam service's signatures of each exam's audit chain head (tremplin_hub.exam.heads).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from tremplin_hub.exam.store import UTCDateTime

revision = "0002"
down_revision = "0001"


def upgrade():
    op.create_table("heads",
                    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("course", sa.String(64), nullable=False),
                    sa.Column("assignment", sa.String(64), nullable=False),
                    sa.Column("entries", sa.Integer, nullable=False),
                    sa.Column("audit_hash", sa.String(64), nullable=False),
                    sa.Column("signed_at", UTCDateTime, nullable=False),
                    sa.Column("key", sa.String(80), nullable=False),
                    sa.Column("signature", sa.String(100), nullable=False))
    op.create_index("heads_by_exam", "heads", ["course", "assignment", "id"])


def downgrade():
    op.drop_index("heads_by_exam", "heads")
    op.drop_table("heads")
