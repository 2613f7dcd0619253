"""Tables the database itself keeps append-only: triggers refuse UPDATE and DELETE, on SQLite and on
PostgreSQL, whoever issues them. A migration adds them with `append_only_triggers("app_table", ...)`."""

from django.db import migrations


def _statements(vendor: str, tables: tuple[str, ...], *, reverse: bool) -> list[str]:
    if vendor == "postgresql":
        # gongzhi_refuse_change() is created by core 0002.
        if reverse:
            return [f"DROP TRIGGER {table}_append_only ON {table};" for table in tables]
        return [
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION gongzhi_refuse_change();"""
            for table in tables
        ]
    if reverse:
        return [f"DROP TRIGGER {table}_no_{change};" for table in tables for change in ("update", "delete")]
    return [
        f"""CREATE TRIGGER {table}_no_{change} BEFORE {change.upper()} ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"""
        for table in tables
        for change in ("update", "delete")
    ]


def append_only_triggers(*tables: str) -> migrations.RunPython:
    def forwards(apps, schema_editor):
        for statement in _statements(schema_editor.connection.vendor, tables, reverse=False):
            schema_editor.execute(statement, params=None)

    def backwards(apps, schema_editor):
        for statement in _statements(schema_editor.connection.vendor, tables, reverse=True):
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(forwards, backwards)
