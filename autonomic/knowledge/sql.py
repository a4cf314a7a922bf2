"""What the SQL stores share: the filters of a journal query as a WHERE clause."""

from __future__ import annotations

from typing import Any

from autonomic.knowledge.store import JournalQuery

__all__ = ["where_clause"]


def where_clause(
    q: JournalQuery, entity_columns: tuple[str, ...], time_column: str, mark: str
) -> tuple[str, list[Any]]:
    """``(" WHERE ...", params)`` for ``q``; ``mark`` is the driver's placeholder (``?`` or ``%s``).

    The entity filter matches any of ``entity_columns`` (an action's manager or target).
    """
    clauses: list[str] = []
    params: list[Any] = []
    if q.entity is not None:
        clauses.append("(" + " OR ".join(f"{c} = {mark}" for c in entity_columns) + ")")
        params.extend([q.entity] * len(entity_columns))
    if q.since is not None:
        clauses.append(f"{time_column} >= {mark}")
        params.append(q.since)
    if q.until is not None:
        clauses.append(f"{time_column} <= {mark}")
        params.append(q.until)
    if q.status is not None:
        clauses.append(f"status = {mark}")
        params.append(q.status.value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
