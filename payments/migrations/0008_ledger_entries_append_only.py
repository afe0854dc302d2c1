"""Ledger entries are append-only in the database itself: UPDATE and DELETE raise.

A mistake is corrected by a new entry, never by editing one (like the audit log). TRUNCATE
is a table owner's privilege: the application's role should not own its tables in production.
"""

from django.db import migrations

FORBID = """
CREATE FUNCTION ledger_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER ledger_entry_append_only
    BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_entry_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("payments", "0007_ledger")]
    operations = [migrations.RunSQL(FORBID, reverse_sql=ALLOW)]
