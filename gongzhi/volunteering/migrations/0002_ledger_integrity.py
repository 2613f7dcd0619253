"""The ledger is append-only in the database itself, like the audit log (core 0002): UPDATE and DELETE of a
transaction or an entry raise, whoever issues them. On PostgreSQL a deferred constraint trigger also checks at
commit that every transaction's entries sum to zero and that no transaction is left without entries; on SQLite
the service's check suffices."""

from django.db import migrations

TABLES = ["volunteering_ledgertransaction", "volunteering_ledgerentry"]

SQLITE = [
    statement
    for table in TABLES
    for statement in (
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;""",
    )
]
SQLITE_REVERSE = [
    statement
    for table in TABLES
    for statement in (f"DROP TRIGGER {table}_no_update;", f"DROP TRIGGER {table}_no_delete;")
]

# gongzhi_refuse_change() is created by core 0002.
POSTGRES = [
    *(
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION gongzhi_refuse_change();"""
        for table in TABLES
    ),
    """CREATE FUNCTION volunteering_ledger_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         txn bigint;
         legs bigint;
         total numeric;
       BEGIN
         IF TG_TABLE_NAME = 'volunteering_ledgerentry' THEN txn := NEW.transaction_id; ELSE txn := NEW.id; END IF;
         SELECT count(*), COALESCE(sum(amount), 0) INTO legs, total
           FROM volunteering_ledgerentry WHERE transaction_id = txn;
         IF legs < 2 OR total <> 0 THEN
           RAISE EXCEPTION 'ledger transaction % does not balance: % entries summing to %', txn, legs, total
             USING ERRCODE = 'integrity_constraint_violation';
         END IF;
         RETURN NULL;
       END; $$;""",
    """CREATE CONSTRAINT TRIGGER volunteering_ledgerentry_balanced AFTER INSERT ON volunteering_ledgerentry
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION volunteering_ledger_balanced();""",
    """CREATE CONSTRAINT TRIGGER volunteering_ledgertransaction_balanced
       AFTER INSERT ON volunteering_ledgertransaction
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION volunteering_ledger_balanced();""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER volunteering_ledgertransaction_balanced ON volunteering_ledgertransaction;",
    "DROP TRIGGER volunteering_ledgerentry_balanced ON volunteering_ledgerentry;",
    "DROP FUNCTION volunteering_ledger_balanced();",
    *(f"DROP TRIGGER {table}_append_only ON {table};" for table in TABLES),
]


def forwards(apps, schema_editor):
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    statements = POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("volunteering", "0001_initial"), ("core", "0002_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
