"""Worker machines: each supervisor records itself (processes, last seen) every few seconds,
so that any front door can say how many workers the deployment has.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("processes", sa.Integer, nullable=False),
        sa.Column("alive", sa.Integer, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workers")
