"""The rate-limit counters (gateway.ratelimit): one row per bucket, in an unlogged table.

Unlogged: its writes skip the WAL, so counting a request costs no fsync; after a crash
PostgreSQL empties the table, which only starts every window again.
"""

from django.db import migrations

CREATE = """
CREATE UNLOGGED TABLE IF NOT EXISTS "gateway_rate_counter" (
    "bucket" text NOT NULL PRIMARY KEY,
    "hits" integer NOT NULL,
    "window_ends" timestamp with time zone NOT NULL
);
"""


class Migration(migrations.Migration):
    dependencies = [("gateway", "0001_cache_table")]

    operations = [
        migrations.RunSQL(CREATE, reverse_sql='DROP TABLE IF EXISTS "gateway_rate_counter";')
    ]
