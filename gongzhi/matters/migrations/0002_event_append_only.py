"""The matter timeline is append-only in the database itself, like the audit log (core 0002)."""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER matters_event_no_update BEFORE UPDATE ON matters_event
       BEGIN SELECT RAISE(ABORT, 'matters_event is append-only'); END;""",
    """CREATE TRIGGER matters_event_no_delete BEFORE DELETE ON matters_event
       BEGIN SELECT RAISE(ABORT, 'matters_event is append-only'); END;""",
]
SQLITE_REVERSE = ["DROP TRIGGER matters_event_no_update;", "DROP TRIGGER matters_event_no_delete;"]

# gongzhi_refuse_change() is created by core 0002.
POSTGRES = [
    """CREATE TRIGGER matters_event_append_only BEFORE UPDATE OR DELETE ON matters_event
       FOR EACH ROW EXECUTE FUNCTION gongzhi_refuse_change();""",
]
POSTGRES_REVERSE = ["DROP TRIGGER matters_event_append_only ON matters_event;"]


def forwards(apps, schema_editor):
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    statements = POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("matters", "0001_initial"), ("core", "0002_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
