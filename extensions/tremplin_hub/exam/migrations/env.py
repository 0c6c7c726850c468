"""Alembic's entry point: migrations run on the connection :func:`tremplin_hub.exam.migrations.upgrade` passes."""

from alembic import context

from tremplin_hub.exam.store import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
