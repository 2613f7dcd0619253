"""Roster versions kept by the database: every community has a RosterStamp row, and triggers raise its
version whenever its residents, households, tags or regions change, by whatever path (services, the
admin, bulk inserts, raw SQL). Cached roster pages carry the versions they were built from
(gongzhi.core.rostercache).

The triggers are row-level and immediate, so the version moves in the same transaction as the data: a reader
sees both or neither. Roster writes in one community therefore queue on its stamp row until they commit.
"""

import django.db.models.deletion
from django.db import migrations, models

from gongzhi.core.migration_sql import vendor_sql

# The communities a region change can show in: the region's own community (an ancestor) and, for a street
# or district, every community below it. Placeholder paths ("/tmp-…/", see services.region_create) match none.
RELATED_COMMUNITIES = """SELECT id FROM core_region WHERE level = 'community'
    AND (path LIKE {row}.path || '%' OR {row}.path LIKE path || '%')"""

SQLITE = [
    *(
        f"""CREATE TRIGGER core_{table}_roster_{event} AFTER {event.upper()} ON core_{table} BEGIN
            UPDATE core_rosterstamp SET version = version + 1 WHERE community_id IN ({communities});
        END;"""
        for table, per_row in [
            ("resident", "{row}.community_id"),
            ("household", "{row}.community_id"),
            ("residenttag", "(SELECT community_id FROM core_resident WHERE id = {row}.resident_id)"),
        ]
        for event, communities in [
            ("insert", per_row.format(row="NEW")),
            ("update", f"{per_row.format(row='NEW')}, {per_row.format(row='OLD')}"),
            ("delete", per_row.format(row="OLD")),
        ]
    ),
    """CREATE TRIGGER core_region_roster_insert AFTER INSERT ON core_region BEGIN
        INSERT INTO core_rosterstamp (community_id, version) SELECT NEW.id, 1 WHERE NEW.level = 'community';
    END;""",
    f"""CREATE TRIGGER core_region_roster_update AFTER UPDATE ON core_region BEGIN
        UPDATE core_rosterstamp SET version = version + 1 WHERE community_id IN (
            {RELATED_COMMUNITIES.format(row="NEW")} UNION {RELATED_COMMUNITIES.format(row="OLD")});
    END;""",
    f"""CREATE TRIGGER core_region_roster_delete AFTER DELETE ON core_region BEGIN
        UPDATE core_rosterstamp SET version = version + 1 WHERE community_id IN (
            {RELATED_COMMUNITIES.format(row="OLD")});
    END;""",
]
SQLITE_REVERSE = [
    f"DROP TRIGGER core_{table}_roster_{event};"
    for table in ("resident", "household", "residenttag", "region")
    for event in ("insert", "update", "delete")
]

POSTGRES = [
    """CREATE FUNCTION core_roster_touch(community_ids bigint[]) RETURNS void LANGUAGE sql AS $$
        UPDATE core_rosterstamp SET version = version + 1 WHERE community_id = ANY(community_ids);
    $$;""",
    # Residents and households carry their community.
    """CREATE FUNCTION core_roster_touch_by_community() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN PERFORM core_roster_touch(ARRAY[NEW.community_id]);
        ELSIF TG_OP = 'DELETE' THEN PERFORM core_roster_touch(ARRAY[OLD.community_id]);
        ELSE PERFORM core_roster_touch(ARRAY[NEW.community_id, OLD.community_id]);
        END IF;
        RETURN NULL;
    END $$;""",
    """CREATE FUNCTION core_roster_touch_by_resident() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM core_roster_touch(ARRAY(
            SELECT community_id FROM core_resident WHERE id IN (
                CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.resident_id END,
                CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.resident_id END)));
        RETURN NULL;
    END $$;""",
    f"""CREATE FUNCTION core_roster_touch_by_region() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.level = 'community' THEN
                INSERT INTO core_rosterstamp (community_id, version) VALUES (NEW.id, 1);
            END IF;
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM core_roster_touch(ARRAY({RELATED_COMMUNITIES.format(row="OLD")}));
        ELSE
            PERFORM core_roster_touch(ARRAY(
                {RELATED_COMMUNITIES.format(row="NEW")} UNION {RELATED_COMMUNITIES.format(row="OLD")}));
        END IF;
        RETURN NULL;
    END $$;""",
    *(
        f"""CREATE TRIGGER core_{table}_roster AFTER INSERT OR UPDATE OR DELETE ON core_{table}
            FOR EACH ROW EXECUTE FUNCTION {function}();"""
        for table, function in [
            ("resident", "core_roster_touch_by_community"),
            ("household", "core_roster_touch_by_community"),
            ("residenttag", "core_roster_touch_by_resident"),
            ("region", "core_roster_touch_by_region"),
        ]
    ),
]
POSTGRES_REVERSE = [
    *(
        f"DROP TRIGGER core_{table}_roster ON core_{table};"
        for table in ("resident", "household", "residenttag", "region")
    ),
    "DROP FUNCTION core_roster_touch_by_region();",
    "DROP FUNCTION core_roster_touch_by_resident();",
    "DROP FUNCTION core_roster_touch_by_community();",
    "DROP FUNCTION core_roster_touch(bigint[]);",
]


def add_stamps(apps, schema_editor):
    RosterStamp = apps.get_model("core", "RosterStamp")
    Region = apps.get_model("core", "Region")
    communities = Region.objects.filter(level="community").values_list("pk", flat=True)
    RosterStamp.objects.bulk_create(RosterStamp(community_id=pk) for pk in communities)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_resident_id_number_lookup")]

    operations = [
        migrations.CreateModel(
            name="RosterStamp",
            fields=[
                (
                    "community",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="core.region",
                    ),
                ),
                ("version", models.BigIntegerField(default=1)),
            ],
        ),
        migrations.RunPython(add_stamps, migrations.RunPython.noop),
        vendor_sql(
            postgres=POSTGRES, postgres_reverse=POSTGRES_REVERSE, sqlite=SQLITE, sqlite_reverse=SQLITE_REVERSE
        ),
    ]
