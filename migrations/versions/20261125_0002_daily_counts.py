"""daily rollup: daily_counts, bucket_counts summed by the location's local day, backfilled

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

The backfill runs the service's own rebuild (service.db.rollup.rebuild_all: one location at a
time, its buckets summed by local day in the database), so the rows it writes are exactly those
the service keeps afterwards, over this revision's count columns (0003 adds `sightings`). Should
a later revision change how the rollup is computed, freeze a copy of that code here first.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from service.db import rollup

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COUNT_COLUMNS = ("frames", "faces", "happy", "not_happy", "angry", "disgust", "fear", "neutral",
                 "sad", "surprise")


def upgrade() -> None:
    op.create_table(
        "daily_counts",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNT_COLUMNS],
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE",
                                name=op.f("fk_daily_counts_location_id_locations")),
        sa.PrimaryKeyConstraint("location_id", "day", name=op.f("pk_daily_counts")),
    )
    session = Session(bind=op.get_bind())  # joins the migration's transaction, never commits it
    rollup.rebuild_all(session, COUNT_COLUMNS)  # this revision's columns: later ones add more
    session.close()


def downgrade() -> None:
    op.drop_table("daily_counts")
