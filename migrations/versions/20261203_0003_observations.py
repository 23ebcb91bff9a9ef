"""observations: a `sightings` count beside the counted faces, and receipts of observation batches

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Edge agents post counts of people (each tracked person once) and of sightings (every face in
every analysed frame). Until now every counted face was also one sighting, so the existing rows
are backfilled with sightings = faces, in buckets and days alike (the rollup stays the buckets'
sum). The column keeps its server default of 0 (the model declares it too): removing it would
copy the whole bucket table on SQLite for nothing, since the service writes every count anyway.
"""
import sqlalchemy as sa
from alembic import op

import service.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNT_TABLES = ("bucket_counts", "daily_counts")


def upgrade() -> None:
    for table in COUNT_TABLES:
        op.add_column(table, sa.Column("sightings", sa.Integer(), nullable=False, server_default="0"))
        op.execute(sa.text(f"UPDATE {table} SET sightings = faces"))
    op.create_table(
        "observation_receipts",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", service.db.types.UTCDateTime(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE",
                                name=op.f("fk_observation_receipts_camera_id_cameras")),
        sa.PrimaryKeyConstraint("camera_id", "batch_id", name=op.f("pk_observation_receipts")),
    )
    op.create_index(op.f("ix_observation_receipts_received_at"), "observation_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_table("observation_receipts")
    for table in COUNT_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("sightings")
