"""The database cache's table, where throttle counts live when there is no Redis.

Created whatever the cache is now, so a deploy that leaves REDIS_URL out later (or
`make run`, which has no Redis) finds it: `createcachetable` alone would only create the
tables of the caches configured at the time it runs.
"""

from django.core.management import call_command
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# settings.DATABASE_CACHE_TABLE; a migration keeps its own copy of a name, as it must
# mean the same table whatever the settings say later.
TABLE = "afterglow_cache"


def create_table(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # The command skips a table that exists already.
    call_command(
        "createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0
    )


def drop_table(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunPython(create_table, drop_table)]
