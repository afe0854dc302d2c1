"""The database cache's table, created by `migrate` so no deployment step can forget it.

Same DDL as `manage.py createcachetable` for settings.CACHE_TABLE ("gateway_cache"), which
then finds the table present and does nothing.
"""

from django.db import migrations

CREATE = """
CREATE TABLE IF NOT EXISTS "gateway_cache" (
    "cache_key" varchar(255) NOT NULL PRIMARY KEY,
    "value" text NOT NULL,
    "expires" timestamp with time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS "gateway_cache_expires" ON "gateway_cache" ("expires");
"""


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunSQL(CREATE, reverse_sql='DROP TABLE IF EXISTS "gateway_cache";')]
