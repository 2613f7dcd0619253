"""A user's roles and inbox versions, kept by the database: triggers raise `core_user.roles_version` whenever
one of the user's role assignments is added, changed or removed, or a region or organisation it names changes,
and `core_user.inbox_version` whenever one of their notifications is added, read or removed; guards keep an
ordinary save of a stale user object from lowering either. The request's user carries its role assignments
and unread count cached under them (gongzhi.core.versioned), so a revoked role is gone from the next request.

On SQLite a migration that rebuilds core_user (adding a column with a default does) must first drop the
triggers here, which name it, and create them again afterwards; a test (test_rostercache.py) checks
that every trigger is in place.
"""

from django.db import migrations, models

from gongzhi.core.migration_sql import vendor_sql


def bump(column: str, users: str) -> str:
    return f"UPDATE core_user SET {column} = {column} + 1 WHERE id IN ({users});"


def user_version(column: str, *, table: str, suffix: str, function: str) -> tuple[list, list, list, list]:
    """(SQLite, its reverse, PostgreSQL, its reverse): triggers that raise core_user.<column> when a row of
    <table> is added, changed or removed for a user, and the guard that keeps the column from going down."""
    raise_for = {"insert": "NEW.user_id", "update": "NEW.user_id, OLD.user_id", "delete": "OLD.user_id"}
    guard = f"core_user_{column}_never_lowered"
    sqlite = [
        *(
            f"""CREATE TRIGGER core_{table}_{suffix}_{event} AFTER {event.upper()} ON core_{table}
                BEGIN {bump(column, users)} END;"""
            for event, users in raise_for.items()
        ),
        f"""CREATE TRIGGER {guard} AFTER UPDATE OF {column} ON core_user WHEN NEW.{column} < OLD.{column}
            BEGIN UPDATE core_user SET {column} = OLD.{column} WHERE id = NEW.id; END;""",
    ]
    sqlite_reverse = [f"DROP TRIGGER core_{table}_{suffix}_{event};" for event in raise_for] + [
        f"DROP TRIGGER {guard};"
    ]
    postgres = [
        f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN {bump(column, raise_for["insert"])}
            ELSIF TG_OP = 'DELETE' THEN {bump(column, raise_for["delete"])}
            ELSE {bump(column, raise_for["update"])}
            END IF;
            RETURN NULL;
        END $$;""",
        f"""CREATE FUNCTION {guard}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.{column} := GREATEST(NEW.{column}, OLD.{column}); RETURN NEW; END $$;""",
        f"""CREATE TRIGGER core_{table}_{suffix} AFTER INSERT OR UPDATE OR DELETE ON core_{table}
            FOR EACH ROW EXECUTE FUNCTION {function}();""",
        f"""CREATE TRIGGER {guard} BEFORE UPDATE ON core_user FOR EACH ROW EXECUTE FUNCTION {guard}();""",
    ]
    postgres_reverse = [
        f"DROP TRIGGER core_{table}_{suffix} ON core_{table};",
        f"DROP TRIGGER {guard} ON core_user;",
        f"DROP FUNCTION {function}();",
        f"DROP FUNCTION {guard}();",
    ]
    return sqlite, sqlite_reverse, postgres, postgres_reverse


ROLES = user_version(
    "roles_version", table="roleassignment", suffix="roles", function="core_roles_touch_by_assignment"
)
INBOX = user_version("inbox_version", table="notification", suffix="inbox", function="core_inbox_touch")

# Cached assignments carry their region and organisation: renaming or moving either changes them too.
HOLDERS_OF_REGION = """SELECT user_id FROM core_roleassignment WHERE region_id = {row}.id
    OR organisation_id IN (SELECT id FROM core_organisation WHERE region_id = {row}.id)"""
HOLDERS_OF_ORGANISATION = "SELECT user_id FROM core_roleassignment WHERE organisation_id = {row}.id"
PLACES = [("region", HOLDERS_OF_REGION), ("organisation", HOLDERS_OF_ORGANISATION)]

SQLITE = [
    *ROLES[0],
    *INBOX[0],
    *(
        f"""CREATE TRIGGER core_{table}_roles_update AFTER UPDATE ON core_{table}
            BEGIN {bump("roles_version", holders.format(row="NEW"))} END;"""
        for table, holders in PLACES
    ),
]
SQLITE_REVERSE = [*(f"DROP TRIGGER core_{table}_roles_update;" for table, _ in PLACES), *INBOX[1], *ROLES[1]]
POSTGRES = [
    *ROLES[2],
    *INBOX[2],
    *(
        f"""CREATE FUNCTION core_roles_touch_by_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {bump("roles_version", holders.format(row="NEW"))} RETURN NULL; END $$;"""
        for table, holders in PLACES
    ),
    *(
        f"""CREATE TRIGGER core_{table}_roles AFTER UPDATE ON core_{table}
            FOR EACH ROW EXECUTE FUNCTION core_roles_touch_by_{table}();"""
        for table, _ in PLACES
    ),
]
POSTGRES_REVERSE = [
    *(f"DROP TRIGGER core_{table}_roles ON core_{table};" for table, _ in PLACES),
    *(f"DROP FUNCTION core_roles_touch_by_{table}();" for table, _ in PLACES),
    *INBOX[3],
    *ROLES[3],
]


class Migration(migrations.Migration):
    dependencies = [("core", "0004_roster_stamp")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="roles_version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="user",
            name="inbox_version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        vendor_sql(
            postgres=POSTGRES, postgres_reverse=POSTGRES_REVERSE, sqlite=SQLITE, sqlite_reverse=SQLITE_REVERSE
        ),
    ]
