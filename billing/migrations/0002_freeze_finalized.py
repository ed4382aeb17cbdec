"""The database itself keeps finalized invoices frozen.

Once an invoice leaves draft, its amounts, dates, number and lines never change: an UPDATE that
touches them, a DELETE, or any change to its lines is refused. What may still be recorded is its
payment (paid_at, payment_reference) and a void (voided_at, void_reason), through the status.
"""

from django.db import migrations

SQL = """
CREATE FUNCTION billing_invoice_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is %: it cannot be deleted', OLD.id, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' AND ROW(NEW.contract_id, NEW.customer_id, NEW.period_start, NEW.period_end,
            NEW.currency, NEW.series, NEW.number, NEW.subtotal, NEW.total, NEW.zero_total, NEW.computed_at,
            NEW.finalized_at, NEW.due_date)
        IS DISTINCT FROM ROW(OLD.contract_id, OLD.customer_id, OLD.period_start, OLD.period_end,
            OLD.currency, OLD.series, OLD.number, OLD.subtotal, OLD.total, OLD.zero_total, OLD.computed_at,
            OLD.finalized_at, OLD.due_date) THEN
        RAISE EXCEPTION 'invoice % is %: its contents are frozen', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.status <> 'draft' AND NEW.status = 'draft' THEN
        RAISE EXCEPTION 'invoice % cannot go back to draft', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER billing_invoice_frozen BEFORE UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_frozen();

CREATE FUNCTION billing_invoiceline_frozen() RETURNS trigger AS $$
DECLARE
    invoice_status text;
BEGIN
    SELECT status INTO invoice_status FROM billing_invoice
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
    IF invoice_status IS DISTINCT FROM 'draft' AND invoice_status IS NOT NULL THEN
        RAISE EXCEPTION 'the lines of a % invoice are frozen', invoice_status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER billing_invoiceline_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_frozen();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS billing_invoiceline_frozen ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_frozen();
DROP TRIGGER IF EXISTS billing_invoice_frozen ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_frozen();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
