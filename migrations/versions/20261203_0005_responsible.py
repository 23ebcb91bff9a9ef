"""responsible deployment: location setting, pauses, audit log, maintenance lease, short receipts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

- locations.setting (existing locations get `other`: `happiness locations check` lists them for
  review) and paused_since on locations and cameras;
- pauses (intervals), audit_log, maintenance_leases;
- frame_receipts lose their per-frame counts (`result`) and gain `expires_at`: a receipt now
  only says that a frame_id was counted; observation_receipts gain `expires_at` too. Receipts
  older than the default 48-hour window are deleted here; the others expire 48 hours after they
  were received.
"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import service.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DEFAULT_WINDOW = timedelta(hours=48)


def upgrade() -> None:
    with op.batch_alter_table("locations") as batch:
        batch.add_column(sa.Column("setting", sa.String(length=32), server_default="other", nullable=False))
        batch.add_column(sa.Column("paused_since", service.db.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("paused_since", service.db.types.UTCDateTime(), nullable=True))
    _create_pauses()
    _create_audit_log()
    op.create_table(
        "maintenance_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", service.db.types.UTCDateTime(), nullable=True),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_maintenance_leases")),
    )
    _shorten_frame_receipts()
    _expire("observation_receipts")


def _create_pauses() -> None:
    op.create_table(
        "pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("started_at", service.db.types.UTCDateTime(), nullable=False),
        sa.Column("ended_at", service.db.types.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE",
                                name=op.f("fk_pauses_camera_id_cameras")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE",
                                name=op.f("fk_pauses_location_id_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pauses")),
    )
    op.create_index("ix_pauses_location_id_started_at", "pauses", ["location_id", "started_at"])


def _create_audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", service.db.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])


def _shorten_frame_receipts() -> None:
    """Drop the counts, then expire the receipts like every other."""
    with op.batch_alter_table("frame_receipts") as batch:
        batch.drop_column("result")
    _expire("frame_receipts")


def _expire(table: str) -> None:
    """Delete the receipts past the default window and give the rest an expiry."""
    receipts = sa.table(table, sa.column("received_at", service.db.types.UTCDateTime()))
    op.execute(receipts.delete().where(receipts.c.received_at < datetime.now(UTC) - DEFAULT_WINDOW))
    op.drop_index(op.f(f"ix_{table}_received_at"), table_name=table)
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("expires_at", service.db.types.UTCDateTime(), nullable=True))
    op.execute(EXPIRY_SQL[op.get_bind().dialect.name].format(table=table))
    with op.batch_alter_table(table) as batch:
        batch.alter_column("expires_at", existing_type=service.db.types.UTCDateTime(), nullable=False)
        batch.create_index(op.f(f"ix_{table}_expires_at"), ["expires_at"])


# received_at + 48 h in the database's own arithmetic; SQLite keeps UTCDateTime as zone-less text
# 'YYYY-MM-DD HH:MM:SS.ffffff' (strftime's %f gives milliseconds: three zeros pad it back)
EXPIRY_SQL = {
    "postgresql": "UPDATE {table} SET expires_at = received_at + interval '48 hours'",
    "sqlite": "UPDATE {table} SET expires_at = strftime('%Y-%m-%d %H:%M:%f', received_at, '+48 hours') || '000'",
}


def downgrade() -> None:
    for table in ("observation_receipts", "frame_receipts"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_expires_at"))
            batch.drop_column("expires_at")
        op.create_index(op.f(f"ix_{table}_received_at"), table, ["received_at"])
    with op.batch_alter_table("frame_receipts") as batch:
        batch.add_column(sa.Column("result", sa.JSON(), server_default="{}", nullable=False))
    op.drop_table("maintenance_leases")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_pauses_location_id_started_at", table_name="pauses")
    op.drop_table("pauses")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("paused_since")
    with op.batch_alter_table("locations") as batch:
        batch.drop_column("paused_since")
        batch.drop_column("setting")
