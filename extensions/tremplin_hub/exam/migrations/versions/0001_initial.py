"""The exam service's tables as they were before migrations (releases to audit).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from tremplin_hub.exam.store import UTCDateTime

revision = "0001"
down_revision = None


def _id():
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _exam():
    return [sa.Column("course", sa.String(64), nullable=False), sa.Column("assignment", sa.String(64), nullable=False)]


def upgrade():
    op.create_table("releases", _id(), *_exam(),
                    sa.Column("version", sa.Integer, nullable=False),
                    sa.Column("released_at", UTCDateTime, nullable=False),
                    sa.Column("released_by", sa.String(255), nullable=False),
                    sa.Column("digest", sa.String(64), nullable=False),
                    sa.Column("folder", sa.String(1024), nullable=False),
                    sa.UniqueConstraint("course", "assignment", "version"))
    op.create_table("sessions", _id(), *_exam(),
                    sa.Column("opens", UTCDateTime, nullable=False),
                    sa.Column("closes", UTCDateTime, nullable=False),
                    sa.Column("duration_s", sa.Float, nullable=False),
                    sa.Column("grace_s", sa.Float, nullable=False),
                    sa.Column("set_by", sa.String(255), nullable=False),
                    sa.Column("set_at", UTCDateTime, nullable=False))
    op.create_table("accommodations", _id(), *_exam(),
                    sa.Column("target_kind", sa.String(8), nullable=False),
                    sa.Column("target", sa.String(255), nullable=False),
                    sa.Column("extra_minutes", sa.Float, nullable=False),
                    sa.Column("time_factor", sa.Float, nullable=False),
                    sa.Column("opens", UTCDateTime),
                    sa.Column("closes", UTCDateTime),
                    sa.Column("granted_by", sa.String(255), nullable=False),
                    sa.Column("granted_at", UTCDateTime, nullable=False),
                    sa.Column("reason", sa.Text, nullable=False))
    op.create_table("attempts", _id(), *_exam(),
                    sa.Column("user", sa.String(255), nullable=False),
                    sa.Column("started_at", UTCDateTime, nullable=False),
                    sa.Column("release_version", sa.Integer, nullable=False),
                    sa.Column("variant", sa.String(64), nullable=False),
                    sa.Column("folder", sa.String(1024), nullable=False),
                    sa.Column("last_ip", sa.String(64), nullable=False),
                    sa.UniqueConstraint("course", "assignment", "user"))
    op.create_table("records", _id(), *_exam(),
                    sa.Column("user", sa.String(255), nullable=False),
                    sa.Column("kind", sa.String(16), nullable=False),
                    sa.Column("server_time", UTCDateTime, nullable=False),
                    sa.Column("folder", sa.String(1024), nullable=False),
                    sa.Column("receipt", sa.Text, nullable=False),
                    sa.Column("chain", sa.String(64), nullable=False),
                    sa.Column("state", sa.String(16), nullable=False),
                    sa.Column("seconds_late", sa.Integer, nullable=False),
                    sa.Column("claimed_time", sa.String(64), nullable=False),
                    sa.Column("ip", sa.String(64), nullable=False))
    op.create_index("records_by_candidate", "records", ["course", "assignment", "user", "id"])
    op.create_table("feedback", _id(), *_exam(),
                    sa.Column("user", sa.String(255), nullable=False),
                    sa.Column("timestamp", sa.String(64), nullable=False),
                    sa.Column("released_at", UTCDateTime, nullable=False),
                    sa.Column("released_by", sa.String(255), nullable=False),
                    sa.Column("folder", sa.String(1024), nullable=False))
    op.create_table("audit", _id(), *_exam(),
                    sa.Column("at", UTCDateTime, nullable=False),
                    sa.Column("actor", sa.String(255), nullable=False),
                    sa.Column("event", sa.String(32), nullable=False),
                    sa.Column("candidate", sa.String(255), nullable=False),
                    sa.Column("ip", sa.String(64), nullable=False),
                    sa.Column("detail", sa.Text, nullable=False),
                    sa.Column("previous", sa.String(64), nullable=False),
                    sa.Column("hash", sa.String(64), nullable=False))


def downgrade():
    for table in ("audit", "feedback", "records", "attempts", "accommodations", "sessions", "releases"):
        op.drop_table(table)
