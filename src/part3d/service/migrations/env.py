"""Alembic environment for part3d's job and key store."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from part3d.service.store import metadata

config = context.config


def run() -> None:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Several front doors and workers starting at once: one migrates, the others
                # wait here (the lock ends with the transaction) and then find nothing to do.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(72373301)")
            context.run_migrations()
    engine.dispose()


run()
