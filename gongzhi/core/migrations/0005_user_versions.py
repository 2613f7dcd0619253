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

# The users whose cached assignments name the region or organisation {row}.
HOLDERS_OF_REGION = """SELECT user_id FROM core_roleassignment WHERE region_id = {row}.id
    OR organisation_id IN (SELECT id FROM core_organisation WHERE region_id = {row}.id)"""
HOLDERS_OF_ORGANISATION = "SELECT user_id FROM core_roleassignment WHERE organisation_id = {row}.id"
BUMP = "UPDATE core_user SET roles_version = roles_version + 1 WHERE id IN ({users});"

SQLITE = [
    *(
        f"""CREATE TRIGGER core_roleassignment_roles_{event} AFTER {event.upper()} ON core_roleassignment
            BEGIN {BUMP.format(users=users)} END;"""
        for event, users in [
            ("insert", "NEW.user_id"),
            ("update", "NEW.user_id, OLD.user_id"),
            ("delete", "OLD.user_id"),
        ]
    ),
    f"""CREATE TRIGGER core_region_roles_update AFTER UPDATE ON core_region
        BEGIN {BUMP.format(users=HOLDERS_OF_REGION.format(row="NEW"))} END;""",
    f"""CREATE TRIGGER core_organisation_roles_update AFTER UPDATE ON core_organisation
        BEGIN {BUMP.format(users=HOLDERS_OF_ORGANISATION.format(row="NEW"))} END;""",
    """CREATE TRIGGER core_user_roles_version_never_lowered AFTER UPDATE OF roles_version ON core_user
        WHEN NEW.roles_version < OLD.roles_version
        BEGIN UPDATE core_user SET roles_version = OLD.roles_version WHERE id = NEW.id; END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER core_roleassignment_roles_insert;",
    "DROP TRIGGER core_roleassignment_roles_update;",
    "DROP TRIGGER core_roleassignment_roles_delete;",
    "DROP TRIGGER core_region_roles_update;",
    "DROP TRIGGER core_organisation_roles_update;",
    "DROP TRIGGER core_user_roles_version_never_lowered;",
]

POSTGRES = [
    f"""CREATE FUNCTION core_roles_touch_by_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN {BUMP.format(users="NEW.user_id")}
        ELSIF TG_OP = 'DELETE' THEN {BUMP.format(users="OLD.user_id")}
        ELSE {BUMP.format(users="NEW.user_id, OLD.user_id")}
        END IF;
        RETURN NULL;
    END $$;""",
    f"""CREATE FUNCTION core_roles_touch_by_region() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN {BUMP.format(users=HOLDERS_OF_REGION.format(row="NEW"))} RETURN NULL; END $$;""",
    f"""CREATE FUNCTION core_roles_touch_by_organisation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN {BUMP.format(users=HOLDERS_OF_ORGANISATION.format(row="NEW"))} RETURN NULL; END $$;""",
    """CREATE FUNCTION core_user_roles_version_never_lowered() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.roles_version := GREATEST(NEW.roles_version, OLD.roles_version); RETURN NEW; END $$;""",
    """CREATE TRIGGER core_roleassignment_roles AFTER INSERT OR UPDATE OR DELETE ON core_roleassignment
        FOR EACH ROW EXECUTE FUNCTION core_roles_touch_by_assignment();""",
    """CREATE TRIGGER core_region_roles AFTER UPDATE ON core_region
        FOR EACH ROW EXECUTE FUNCTION core_roles_touch_by_region();""",
    """CREATE TRIGGER core_organisation_roles AFTER UPDATE ON core_organisation
        FOR EACH ROW EXECUTE FUNCTION core_roles_touch_by_organisation();""",
    """CREATE TRIGGER core_user_roles_version_never_lowered BEFORE UPDATE ON core_user
        FOR EACH ROW EXECUTE FUNCTION core_user_roles_version_never_lowered();""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER core_roleassignment_roles ON core_roleassignment;",
    "DROP TRIGGER core_region_roles ON core_region;",
    "DROP TRIGGER core_organisation_roles ON core_organisation;",
    "DROP TRIGGER core_user_roles_version_never_lowered ON core_user;",
    "DROP FUNCTION core_roles_touch_by_assignment();",
    "DROP FUNCTION core_roles_touch_by_region();",
    "DROP FUNCTION core_roles_touch_by_organisation();",
    "DROP FUNCTION core_user_roles_version_never_lowered();",
]


INBOX_BUMP = "UPDATE core_user SET inbox_version = inbox_version + 1 WHERE id IN ({users});"

INBOX_SQLITE = [
    *(
        f"""CREATE TRIGGER core_notification_inbox_{event} AFTER {event.upper()} ON core_notification
            BEGIN {INBOX_BUMP.format(users=users)} END;"""
        for event, users in [
            ("insert", "NEW.user_id"),
            ("update", "NEW.user_id, OLD.user_id"),
            ("delete", "OLD.user_id"),
        ]
    ),
    """CREATE TRIGGER core_user_inbox_version_never_lowered AFTER UPDATE OF inbox_version ON core_user
        WHEN NEW.inbox_version < OLD.inbox_version
        BEGIN UPDATE core_user SET inbox_version = OLD.inbox_version WHERE id = NEW.id; END;""",
]
INBOX_SQLITE_REVERSE = [
    "DROP TRIGGER core_notification_inbox_insert;",
    "DROP TRIGGER core_notification_inbox_update;",
    "DROP TRIGGER core_notification_inbox_delete;",
    "DROP TRIGGER core_user_inbox_version_never_lowered;",
]

INBOX_POSTGRES = [
    f"""CREATE FUNCTION core_inbox_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN {INBOX_BUMP.format(users="NEW.user_id")}
        ELSIF TG_OP = 'DELETE' THEN {INBOX_BUMP.format(users="OLD.user_id")}
        ELSE {INBOX_BUMP.format(users="NEW.user_id, OLD.user_id")}
        END IF;
        RETURN NULL;
    END $$;""",
    """CREATE FUNCTION core_user_inbox_version_never_lowered() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.inbox_version := GREATEST(NEW.inbox_version, OLD.inbox_version); RETURN NEW; END $$;""",
    """CREATE TRIGGER core_notification_inbox AFTER INSERT OR UPDATE OR DELETE ON core_notification
        FOR EACH ROW EXECUTE FUNCTION core_inbox_touch();""",
    """CREATE TRIGGER core_user_inbox_version_never_lowered BEFORE UPDATE ON core_user
        FOR EACH ROW EXECUTE FUNCTION core_user_inbox_version_never_lowered();""",
]
INBOX_POSTGRES_REVERSE = [
    "DROP TRIGGER core_notification_inbox ON core_notification;",
    "DROP TRIGGER core_user_inbox_version_never_lowered ON core_user;",
    "DROP FUNCTION core_inbox_touch();",
    "DROP FUNCTION core_user_inbox_version_never_lowered();",
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
            postgres=POSTGRES + INBOX_POSTGRES,
            postgres_reverse=INBOX_POSTGRES_REVERSE + POSTGRES_REVERSE,
            sqlite=SQLITE + INBOX_SQLITE,
            sqlite_reverse=INBOX_SQLITE_REVERSE + SQLITE_REVERSE,
        ),
    ]
