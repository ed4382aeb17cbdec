"""The database itself refuses changes to an active rate card version and its prices.

Services already refuse them; these triggers make sure no other path (a shell, a
bulk UPDATE, a bug) can change prices that invoices were computed from.
"""

from django.db import migrations

SQL = """
CREATE FUNCTION catalog_refuse_active_version_change() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'active' THEN
        RAISE EXCEPTION 'rate card version % is active: it and its prices are frozen', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN COALESCE(NEW, OLD);
END $$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_ratecardversion_frozen BEFORE UPDATE OR DELETE ON catalog_ratecardversion
    FOR EACH ROW EXECUTE FUNCTION catalog_refuse_active_version_change();

CREATE FUNCTION catalog_refuse_active_price_change() RETURNS trigger AS $$
DECLARE
    version_ids bigint[];
BEGIN
    IF TG_TABLE_NAME = 'catalog_price' THEN
        version_ids := ARRAY[CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.version_id END,
                             CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.version_id END];
    ELSE
        SELECT array_agg(p.version_id) INTO version_ids FROM catalog_price p
         WHERE p.id IN (CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.price_id END,
                        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.price_id END);
    END IF;
    IF EXISTS (SELECT 1 FROM catalog_ratecardversion v WHERE v.id = ANY(version_ids) AND v.status = 'active') THEN
        RAISE EXCEPTION 'prices of an active rate card version are frozen (%)', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN COALESCE(NEW, OLD);
END $$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_price_frozen BEFORE INSERT OR UPDATE OR DELETE ON catalog_price
    FOR EACH ROW EXECUTE FUNCTION catalog_refuse_active_price_change();
CREATE TRIGGER catalog_pricetier_frozen BEFORE INSERT OR UPDATE OR DELETE ON catalog_pricetier
    FOR EACH ROW EXECUTE FUNCTION catalog_refuse_active_price_change();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS catalog_pricetier_frozen ON catalog_pricetier;
DROP TRIGGER IF EXISTS catalog_price_frozen ON catalog_price;
DROP FUNCTION IF EXISTS catalog_refuse_active_price_change();
DROP TRIGGER IF EXISTS catalog_ratecardversion_frozen ON catalog_ratecardversion;
DROP FUNCTION IF EXISTS catalog_refuse_active_version_change();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
