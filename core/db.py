"""Bulk statements written once for both databases: one array statement on PostgreSQL, executemany elsewhere.

Django's `bulk_update` writes a CASE per column over every row (slow to build and to run) and
`bulk_create` builds one parameter per value; the drains write thousands of rows a step, so on
PostgreSQL they send each column as one array (`unnest`) in one short statement.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection

_NAME = re.compile(r":(\w+)")


def is_postgres() -> bool:
    """PostgreSQL-only SQL (COPY, prepared statements, byte aggregates) stays on the hot paths that measured it."""
    return connection.vendor == "postgresql"


def rows_update(*, table: str, assignments: str, rows: Sequence[Mapping[str, Any]], types: Mapping[str, str],
                where: str = "") -> None:
    """`UPDATE table SET assignments` for every row, matched on its "id".

    In `assignments` and `where`, `:name` is the row's value and `{t}column` the column of the row
    being updated (as it was: "a := b, b := c" swaps in one statement). `types` gives each value's
    PostgreSQL type ("id" included).
    """
    if not rows:
        return
    condition = "{t}id = :id" + (f" AND {where}" if where else "")
    names = list(dict.fromkeys(["id", *_NAME.findall(assignments + condition)]))
    with connection.cursor() as cursor:
        if is_postgres():
            set_sql, where_sql = (_NAME.sub(r"v.\1", part.replace("{t}", "t.")) for part in (assignments, condition))
            arrays = ", ".join(f"%s::{types[name]}[]" for name in names)
            cursor.execute(
                f"UPDATE {table} AS t SET {set_sql} FROM unnest({arrays}) AS v({', '.join(names)}) WHERE {where_sql}",
                [[row[name] for row in rows] for name in names],
            )
            return
        set_sql, where_sql = (_NAME.sub("%s", part.replace("{t}", "")) for part in (assignments, condition))
        order = _NAME.findall(assignments + " " + condition)
        cursor.executemany(f"UPDATE {table} SET {set_sql} WHERE {where_sql}",
                           [[row[name] for name in order] for row in rows])


def rows_insert(*, table: str, columns: Mapping[str, str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT the rows (values in the order of `columns`, which maps each column to its PostgreSQL type)."""
    if not rows:
        return
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if is_postgres():
            arrays = ", ".join(f"%s::{kind}[]" for kind in columns.values())
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})",
                           [list(column) for column in zip(*rows, strict=True)])
            return
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
                           [list(row) for row in rows])


def rows_copy(*, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Append rows fast: a COPY on PostgreSQL (per-row parameter adaptation is what an executemany spends
    its time on there), an executemany elsewhere. `table` and `columns` are unquoted names."""
    if not rows:
        return
    quote = connection.ops.quote_name
    target, names = quote(table), ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if is_postgres():
            # psycopg's COPY is not one of Django's wrapped calls: map its errors to Django's as execute does.
            with connection.wrap_database_errors, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        cursor.executemany(f"INSERT INTO {target} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)
