"""initial schema: locations, cameras, bucket counts, frame receipts

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

import service.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

COUNT_COLUMNS = ("frames", "faces", "happy", "not_happy", "angry", "disgust", "fear", "neutral",
                 "sad", "surprise")


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", service.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", service.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("name", name=op.f("uq_locations_name")),
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", service.db.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", service.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE",
                                name=op.f("fk_cameras_location_id_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_cameras_key_hash")),
    )
    op.create_index(op.f("ix_cameras_location_id"), "cameras", ["location_id"])
    op.create_table(
        "bucket_counts",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("bucket_start", service.db.types.UTCDateTime(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNT_COLUMNS],
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE",
                                name=op.f("fk_bucket_counts_camera_id_cameras")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE",
                                name=op.f("fk_bucket_counts_location_id_locations")),
        sa.PrimaryKeyConstraint("location_id", "bucket_start", "camera_id", name=op.f("pk_bucket_counts")),
    )
    op.create_index("ix_bucket_counts_bucket_start", "bucket_counts", ["bucket_start"])
    op.create_table(
        "frame_receipts",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("frame_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", service.db.types.UTCDateTime(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE",
                                name=op.f("fk_frame_receipts_camera_id_cameras")),
        sa.PrimaryKeyConstraint("camera_id", "frame_id", name=op.f("pk_frame_receipts")),
    )
    op.create_index(op.f("ix_frame_receipts_received_at"), "frame_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_table("frame_receipts")
    op.drop_table("bucket_counts")
    op.drop_table("cameras")
    op.drop_table("locations")
