"""location calibrations: a location's own happy-vs-rest rates for one model version

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

import service.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "location_calibrations",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("n_happy", sa.Integer(), nullable=False),
        sa.Column("happy_as_happy", sa.Integer(), nullable=False),
        sa.Column("n_other", sa.Integer(), nullable=False),
        sa.Column("other_as_happy", sa.Integer(), nullable=False),
        sa.Column("calibrated_at", service.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("n_happy > 0 AND n_other > 0", name=op.f("ck_location_calibrations_faces")),
        sa.CheckConstraint("happy_as_happy >= 0 AND happy_as_happy <= n_happy",
                           name=op.f("ck_location_calibrations_happy_as_happy")),
        sa.CheckConstraint("other_as_happy >= 0 AND other_as_happy <= n_other",
                           name=op.f("ck_location_calibrations_other_as_happy")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE",
                                name=op.f("fk_location_calibrations_location_id_locations")),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_location_calibrations")),
    )


def downgrade() -> None:
    op.drop_table("location_calibrations")
