"""Two active bookings of an exclusive resource can never overlap: PostgreSQL refuses the second by an
exclusion constraint over (resource, [starts_at, blocked_until)), whatever the application does. SQLite has
no such constraint; there every write transaction is immediate (settings), so the services' check and
insert run one at a time."""

from django.db import migrations

ACTIVE = "('pending', 'confirmed', 'checked_in')"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist;")
    schema_editor.execute(
        f"""ALTER TABLE sharing_booking ADD CONSTRAINT booking_no_overlap EXCLUDE USING gist (
            resource_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&
        ) WHERE (exclusive AND status IN {ACTIVE});"""
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE sharing_booking DROP CONSTRAINT booking_no_overlap;")


class Migration(migrations.Migration):
    dependencies = [("sharing", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
