"""Helpers for the few statements written by hand (journal/sql.py, the token lookup).

The ORM's cost on a busy request is mostly building the query, not running it; for the
requests every client makes all the time, a statement built once per process from the
models' own metadata is a fraction of it (docs/architecture.md, "Hand-written
statements"). These helpers keep such statements tied to the models: column lists come
from `_meta`, rows become instances through `Model.from_db` with each field's database
converters applied, so an added field is carried without a change to the statement.

They are for PostgreSQL (`is_available`); elsewhere (SQLite for `make run`) callers use
the ORM, and the tests run both paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Field, Model

ModelT = TypeVar("ModelT", bound=Model)


def is_available() -> bool:
    return connection.vendor == "postgresql"


def quoted(model: type[Model], name: str) -> str:
    """A field's column, quoted for this database."""
    field = cast("Field[Any, Any]", model._meta.get_field(name))
    return connection.ops.quote_name(str(field.column))


def column_list(model: type[Model], alias: str) -> str:
    """Every concrete column of `model`, in field order, prefixed by the table `alias`."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(str(field.column))}" for field in model._meta.concrete_fields)


def instance(model: type[ModelT], values: Sequence[Any]) -> ModelT:
    """A model instance from a row's values for `column_list(model, ...)`, as the ORM
    would have made it."""
    fields = model._meta.concrete_fields
    converted = list(values)
    for index, field in enumerate(fields):
        for convert in field.get_db_converters(connection):
            converted[index] = convert(converted[index], field, connection)
    return model.from_db(connection.alias, [field.attname for field in fields], converted)
