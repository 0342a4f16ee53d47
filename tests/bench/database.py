"""The database each benchmark of `make bench` builds for itself: created afresh, migrated,
seeded with patients that have one device each, and dropped when the benchmark is done."""

from __future__ import annotations

import os
from typing import Any

from tests import processes

SERVER = "postgresql://postgres@127.0.0.1:5432"


def drop_database(name: str) -> None:
    """Closes Django's connections and drops the benchmark's database."""
    from django.db import connections

    connections.close_all()
    processes.drop_database(f"{SERVER}/{name}")


def setup_django(name: str) -> None:
    """Points Django's test settings at a fresh database `name` and migrates it."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings_test"
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    processes.recreate_database(f"{SERVER}/{name}")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def sql(statement: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)


def make_patients(count: int, *, name: str, token: str) -> list[Any]:
    """`count` patients (`{name}{n}@bench.test`), each with one Android device whose push
    token is `{token}-{n}`."""
    from backend.accounts.models import User
    from integration.models import Device

    users = User.objects.bulk_create(
        User(email=f"{name}{n}@bench.test", display_name=f"{name.title()} {n}", password="!")
        for n in range(count)
    )
    Device.objects.bulk_create(
        Device(user=user, platform="android", token=f"{token}-{n}", token_hash=f"hash-{n}")
        for n, user in enumerate(users)
    )
    return users
