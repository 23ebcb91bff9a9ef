"""The counting upsert shared by bucket_counts and daily_counts: an INSERT in the dialect's
flavour (both have ON CONFLICT), and on conflict every count column added to the stored row."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from service.db.tables import COUNT_COLUMNS


def dialect_insert(dialect: str, table):
    """INSERT for `table` with the ON CONFLICT clauses of PostgreSQL or SQLite."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def adding_counts_on_conflict(statement, table, index_elements: list[str]):
    """`statement`, which on a conflict over `index_elements` adds its counts to the row's."""
    increments = {column: table.c[column] + statement.excluded[column] for column in COUNT_COLUMNS}
    return statement.on_conflict_do_update(index_elements=index_elements, set_=increments)
