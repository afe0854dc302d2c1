"""A final status never changes again, whatever code runs: the database refuses it.

The one writer of status (payments.services.transition_payment) only moves a payment out of
PENDING; this trigger is the backstop for any other UPDATE, from a bug, a script or psql.
"""

from django.db import migrations

FORBID = """
CREATE FUNCTION payment_final_status_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'PENDING' AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'payment % is % and can no longer change', OLD.public_id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER payment_final_status_immutable
    BEFORE UPDATE OF status ON payments_payment
    FOR EACH ROW EXECUTE FUNCTION payment_final_status_immutable();
"""

ALLOW = """
DROP TRIGGER IF EXISTS payment_final_status_immutable ON payments_payment;
DROP FUNCTION IF EXISTS payment_final_status_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("payments", "0004_payment_lease_holder")]
    operations = [migrations.RunSQL(FORBID, reverse_sql=ALLOW)]
