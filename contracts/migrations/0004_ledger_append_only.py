"""The ledger is append-only in the database itself: no UPDATE or DELETE of an entry, ever.

A balance is the sum of its entries, so an edited entry would silently change money. Corrections
are new entries (adjustment, void).
"""

from django.db import migrations

SQL = """
CREATE FUNCTION contracts_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only; add a correcting entry instead'
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER contracts_ledgerentry_append_only BEFORE UPDATE OR DELETE ON contracts_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION contracts_ledger_append_only();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS contracts_ledgerentry_append_only ON contracts_ledgerentry;
DROP FUNCTION IF EXISTS contracts_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("contracts", "0003_contracts")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
