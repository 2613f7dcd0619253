"""SQL a migration runs on one database or the other: triggers are written once for PostgreSQL and once
for SQLite (the demo database), and reversed by their own statements."""

from django.db import migrations


def vendor_sql(
    *, postgres: list[str], postgres_reverse: list[str], sqlite: list[str], sqlite_reverse: list[str]
) -> migrations.RunPython:
    def run(schema_editor, *, forwards: bool):
        if schema_editor.connection.vendor == "postgresql":
            statements = postgres if forwards else postgres_reverse
        else:
            statements = sqlite if forwards else sqlite_reverse
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return migrations.RunPython(
        lambda apps, schema_editor: run(schema_editor, forwards=True),
        lambda apps, schema_editor: run(schema_editor, forwards=False),
    )
