"""An issued certificate is a record someone may rely on: like the ledger, the database refuses to change or
delete one (a correction is a new certificate)."""

from django.db import migrations

TABLE = "volunteering_certificate"

SQLITE = [
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END;""",
    f"""CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END;""",
]
SQLITE_REVERSE = [f"DROP TRIGGER {TABLE}_no_update;", f"DROP TRIGGER {TABLE}_no_delete;"]
# gongzhi_refuse_change() is created by core 0002.
POSTGRES = [
    f"""CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION gongzhi_refuse_change();"""
]
POSTGRES_REVERSE = [f"DROP TRIGGER {TABLE}_append_only ON {TABLE};"]


def forwards(apps, schema_editor):
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    statements = POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("volunteering", "0003_activities_supermarket"), ("core", "0002_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
