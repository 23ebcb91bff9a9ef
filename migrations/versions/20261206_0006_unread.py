"""unread: a count of faces seen but too small to read, beside faces and sightings

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

A face found but smaller than the readable size (HAPPINESS_MIN_READABLE_FACE_PX) is counted as
seen, never read: `unread` on buckets and days, outside `faces` (the index's denominator). Until
now every face found was read, so the existing rows hold 0 unread, which the server default
gives them; the rollup stays the buckets' sum. The default stays, as for `sightings` (0003):
removing it would copy the whole bucket table on SQLite for nothing.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COUNT_TABLES = ("bucket_counts", "daily_counts")


def upgrade() -> None:
    for table in COUNT_TABLES:
        op.add_column(table, sa.Column("unread", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in COUNT_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("unread")
