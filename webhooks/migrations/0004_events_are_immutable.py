"""An event is what was sent: the database refuses to change it (but for the fan-out mark,
set once) or delete it, whatever code or psql runs."""

from django.db import migrations

FORBID = """
CREATE FUNCTION webhooks_event_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'event % is immutable (DELETE refused)', OLD.public_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - 'fanned_out_at') IS DISTINCT FROM (to_jsonb(OLD) - 'fanned_out_at')
       OR (OLD.fanned_out_at IS NOT NULL
           AND NEW.fanned_out_at IS DISTINCT FROM OLD.fanned_out_at) THEN
        RAISE EXCEPTION 'event % is immutable (UPDATE refused)', OLD.public_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER webhooks_event_immutable
    BEFORE UPDATE OR DELETE ON webhooks_event
    FOR EACH ROW EXECUTE FUNCTION webhooks_event_immutable();
"""

ALLOW = """
DROP TRIGGER IF EXISTS webhooks_event_immutable ON webhooks_event;
DROP FUNCTION IF EXISTS webhooks_event_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0003_outbound_webhooks")]
    operations = [migrations.RunSQL(FORBID, reverse_sql=ALLOW)]
