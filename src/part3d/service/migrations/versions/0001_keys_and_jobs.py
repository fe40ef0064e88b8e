"""API keys and job records.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("secret_id", sa.String(64), primary_key=True),
        sa.Column("secret_key", sa.Text, nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("token", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(19), primary_key=True),
        sa.Column("account", sa.String(128), nullable=False, index=True),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("status", sa.String(8), nullable=False, index=True),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("error_code", sa.String(64), nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("api_keys")
