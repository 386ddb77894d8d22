"""Hand-written SELECTs for the few queries that run on every request, and their rows made back into models.

Compiling a query costs the ORM several times what the database takes to answer it on loopback (about 0.7 ms
against 0.3 ms for the user and their teams, measured on PostgreSQL). The queries here are written once per
database connection from the models' own metadata (column names, quoted by the backend) and their rows go through
the same converters the ORM applies, then Model.from_db(), so the instances are the ones the ORM would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model


def fits(connection: BaseDatabaseWrapper, field: Field, value: object) -> bool:
    """Whether `value` can be compared with the field's column. An int beyond the column's range matches no row,
    but the driver raises on it (SQLite: OverflowError) where the ORM answers "no such row"."""
    if field.is_relation:
        field = field.target_field
    if not isinstance(value, int) or field.get_internal_type() not in connection.ops.integer_field_ranges:
        return True
    low, high = connection.ops.integer_field_range(field.get_internal_type())
    return (low is None or value >= low) and (high is None or value <= high)


class Columns:
    """Some (by default all) concrete fields of a model, as columns of a SELECT under a table alias."""

    def __init__(self, model: type[Model], alias: str, names: Sequence[str] | None = None) -> None:
        self.model = model
        self.alias = alias
        # In model order, as Model.from_db() expects of a partial row.
        self.fields = [f for f in model._meta.concrete_fields if names is None or f.name in names]
        self.attnames = [f.attname for f in self.fields]
        self._converters: dict[str, list[tuple[list[Callable[..., Any]], Any]]] = {}
        self._sql: dict[tuple[str, tuple[str, ...]], str] = {}

    def __len__(self) -> int:
        return len(self.fields)

    def table(self, connection: BaseDatabaseWrapper) -> str:
        """`table alias`, for FROM and JOIN."""
        return f"{connection.ops.quote_name(self.model._meta.db_table)} {self.alias}"

    def column(self, connection: BaseDatabaseWrapper, name: str) -> str:
        """alias.column of the field `name` (a field name, e.g. "team" for team_id)."""
        return f"{self.alias}.{connection.ops.quote_name(self.model._meta.get_field(name).column)}"

    def select(self, connection: BaseDatabaseWrapper) -> str:
        return ", ".join(f"{self.alias}.{connection.ops.quote_name(f.column)}" for f in self.fields)

    def load(self, connection: BaseDatabaseWrapper, row: Sequence[Any], start: int = 0) -> Model:
        """The instance from row[start : start + len(self)], converted as the ORM converts."""
        converters = self._converters.get(connection.alias)
        if converters is None:
            converters = []
            for f in self.fields:
                col = f.get_col(self.alias)
                converters.append(([*connection.ops.get_db_converters(col), *f.get_db_converters(connection)], col))
            self._converters[connection.alias] = converters
        values = []
        for value, (field_converters, col) in zip(row[start : start + len(self.fields)], converters, strict=True):
            for convert in field_converters:
                value = convert(value, col, connection)
            values.append(value)
        return self.model.from_db(connection.alias, self.attnames, values)

    def get(self, connection: BaseDatabaseWrapper, **equal: object) -> Model | None:
        """The one row whose fields equal these values (field names, e.g. pk=1, team=5), or None."""
        names = tuple(equal)
        meta = self.model._meta
        if not all(fits(connection, meta.pk if name == "pk" else meta.get_field(name), v) for name, v in equal.items()):
            return None
        sql = self._sql.get((connection.alias, names))
        if sql is None:
            where = " AND ".join(
                f"{self.column(connection, self.model._meta.pk.name if name == 'pk' else name)} = %s" for name in names
            )
            sql = f"SELECT {self.select(connection)} FROM {self.table(connection)} WHERE {where}"  # noqa: S608
            self._sql[(connection.alias, names)] = sql
        with connection.cursor() as cursor:
            cursor.execute(sql, list(equal.values()))
            row = cursor.fetchone()
        return None if row is None else self.load(connection, row)
