"""The versions the database keeps (RosterStamp, User.roles_version and inbox_version) and what is cached
under them: roster lists, role assignments and the header's unread count, never older than the data or
wider than the viewer's roles."""

import re
import threading
from importlib import import_module

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.urls import reverse

from conftest import grant, make_user
from gongzhi.core.models import (
    Household,
    Notification,
    Region,
    Resident,
    ResidentTag,
    RoleAssignment,
    RosterStamp,
    User,
)
from gongzhi.core.roles import Role
from gongzhi.core.rostercache import cached_roster, scope_versions
from gongzhi.core.services import region_create, resident_create

API_LIST = "/api/v1/residents"


@pytest.fixture(autouse=True)
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def version(community: Region) -> int:
    return RosterStamp.objects.get(community=community).version


def versions(*communities: Region) -> list[int]:
    return [version(community) for community in communities]


def add_resident(people, name: str, *, building=None, tags=()) -> Resident:
    return resident_create(
        created_by=people.admin, region=building or people.building, name=name, room="7-701", tags=list(tags)
    )


def listed(client, path: str = "") -> str:
    return client.get(reverse("workbench-residents") + path).text


# The stamps the triggers keep


def test_it_gives_every_community_a_stamp_of_its_own(people):
    new = region_create(parent=people.street, name="新社区", level="community")
    assert RosterStamp.objects.filter(community=new).exists()
    assert not RosterStamp.objects.filter(community=people.building).exists()
    assert RosterStamp.objects.count() == Region.objects.filter(level="community").count()


def test_it_raises_a_communitys_version_with_each_change_to_its_residents(people):
    before = version(people.community)
    resident = add_resident(people, "新住户")
    after_insert = version(people.community)
    Resident.objects.filter(pk=resident.pk).update(name="改名")
    after_update = version(people.community)
    resident.delete()
    assert before < after_insert < after_update < version(people.community)


def test_it_raises_it_for_tags_households_and_rows_written_past_the_orm(people):
    record = people.neighbour_record
    steps = [version(people.community)]
    ResidentTag.objects.create(resident=record, tag="disability")
    steps.append(version(people.community))
    ResidentTag.objects.filter(resident=record, tag="disability").delete()
    steps.append(version(people.community))
    Household.objects.filter(pk=record.household_id).update(number="2-202")
    steps.append(version(people.community))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_resident SET name = %s WHERE id = %s", ["直接改", record.pk])
    steps.append(version(people.community))
    assert steps == sorted(set(steps)), steps


def test_it_leaves_other_communities_alone(people):
    before = versions(people.sibling_community, people.other_community)
    add_resident(people, "新住户")
    assert versions(people.sibling_community, people.other_community) == before


def test_a_resident_moving_house_raises_both_communities(people):
    before = versions(people.community, people.other_community)
    Resident.objects.filter(pk=people.neighbour_record.pk).update(
        community=people.other_community, region=people.other_building, household=None
    )
    after = versions(people.community, people.other_community)
    assert all(new > old for new, old in zip(after, before, strict=True))


def test_renaming_a_region_raises_the_communities_it_shows_in(people):
    before = versions(people.community, people.sibling_community, people.other_community)
    Region.objects.filter(pk=people.building.pk).update(name="一栋")
    after_building = versions(people.community, people.sibling_community, people.other_community)
    assert after_building[0] > before[0] and after_building[1:] == before[1:]
    Region.objects.filter(pk=people.street.pk).update(name="苏坡")
    after_street = versions(people.community, people.sibling_community, people.other_community)
    assert after_street[0] > after_building[0] and after_street[1] > after_building[1]
    assert after_street[2] == before[2]


def test_scope_versions_cover_the_communities_in_reach(people):
    street = dict(scope_versions(people.street_officer))
    assert set(street) == {people.community.pk, people.sibling_community.pk}
    assert set(dict(scope_versions(people.compound_leader))) == {people.community.pk}
    assert set(dict(scope_versions(people.admin))) == set(
        Region.objects.filter(level="community").values_list("pk", flat=True)
    )
    assert scope_versions(people.resident) is None


# The roles version


def roles_version(user: User) -> int:
    return User.objects.get(pk=user.pk).roles_version


def test_granting_and_revoking_a_role_raise_the_roles_version(people):
    user = people.grid_worker
    steps = [roles_version(user)]
    grant(user, Role.BUILDING_LEADER, region=people.building_2)
    steps.append(roles_version(user))
    RoleAssignment.objects.filter(user=user, role=Role.BUILDING_LEADER).delete()
    steps.append(roles_version(user))
    Region.objects.filter(pk=people.grid.pk).update(name="一网格")
    steps.append(roles_version(user))
    assert steps == sorted(set(steps)), steps
    assert roles_version(people.street_officer) == roles_version(people.street_officer)


def test_saving_a_stale_user_object_never_lowers_the_roles_version(people):
    stale = User.objects.get(pk=people.grid_worker.pk)
    grant(people.grid_worker, Role.BUILDING_LEADER, region=people.building_2)
    raised = roles_version(people.grid_worker)
    stale.name = "新名字"
    stale.save()
    assert roles_version(people.grid_worker) == raised
    assert User.objects.get(pk=stale.pk).name == "新名字"


def test_a_revoked_role_is_gone_from_the_next_request(people, login):
    user = make_user("13800000077", "临时网格员")
    grant(user, Role.GRID_WORKER, region=people.grid)
    client = login(user)
    assert "李奶奶" in listed(client)
    RoleAssignment.objects.filter(user=user).delete()
    assert client.get(reverse("workbench-residents")).status_code == 404
    grant(user, Role.COMMUNITY_WORKER, region=people.other_community)
    page = listed(client)
    assert "王吉福" in page and "李奶奶" not in page


def inbox_version(user: User) -> int:
    return User.objects.get(pk=user.pk).inbox_version


def test_each_notification_and_its_reading_raise_the_inbox_version(people):
    user = people.resident
    steps = [inbox_version(user)]
    notification = Notification.objects.create(user=user, title="通知")
    steps.append(inbox_version(user))
    Notification.objects.filter(pk=notification.pk).update(read_at="2026-11-28T08:00:00+08:00")
    steps.append(inbox_version(user))
    notification.delete()
    steps.append(inbox_version(user))
    assert steps == sorted(set(steps)), steps
    assert inbox_version(people.community_worker) == 0


def test_saving_a_stale_user_object_never_lowers_the_inbox_version(people):
    stale = User.objects.get(pk=people.resident.pk)
    Notification.objects.create(user=people.resident, title="通知")
    raised = inbox_version(people.resident)
    stale.save()
    assert inbox_version(people.resident) == raised


def unread_badge(client) -> str | None:
    match = re.search(r'<span class="badge">(\d+)</span>', client.get(reverse("home")).text)
    return match and match.group(1)


def test_the_headers_unread_count_follows_the_inbox_at_once(people, login):
    client = login(people.resident)
    assert unread_badge(client) is None
    Notification.objects.create(user=people.resident, title="第一条")
    assert unread_badge(client) == "1"
    Notification.objects.create(user=people.resident, title="第二条")
    assert unread_badge(client) == "2"
    inbox = client.get(reverse("notifications")).text
    assert "第二条" in inbox and '<span class="badge">' not in inbox
    assert unread_badge(client) is None


def trigger_names(migration: str, statements: str) -> set[str]:
    module = import_module(f"gongzhi.core.migrations.{migration}")
    return {
        name
        for attribute in dir(module)
        if attribute.endswith(statements) and not attribute.endswith("REVERSE")
        for statement in getattr(module, attribute)
        for name in re.findall(r"CREATE TRIGGER (\w+)", statement)
    }


def test_every_trigger_that_keeps_a_version_is_in_place(db):
    """SQLite drops a table's triggers when a migration rebuilds the table: a later migration must add them
    again, or this fails."""
    if connection.vendor == "postgresql":
        expected = trigger_names("0004_roster_stamp", "POSTGRES") | trigger_names(
            "0005_user_versions", "POSTGRES"
        )
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    else:
        expected = trigger_names("0004_roster_stamp", "SQLITE") | trigger_names(
            "0005_user_versions", "SQLITE"
        )
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    with connection.cursor() as cursor:
        cursor.execute(query)
        present = {name for (name,) in cursor.fetchall()}
    assert len(expected) >= 8
    assert expected <= present, expected - present


# Pages and API from the cache


def test_a_new_resident_is_listed_on_the_next_request(people, login):
    client = login(people.community_worker)
    assert "新来的" not in listed(client)
    add_resident(people, "新来的")
    assert "新来的" in listed(client)
    assert "新来的" in [item["name"] for item in client.get(API_LIST).json()["items"]]


def test_a_changed_tag_or_renamed_building_shows_at_once(people, login):
    client = login(people.community_worker)
    assert "Disability" not in listed(client)
    ResidentTag.objects.create(resident=people.neighbour_record, tag="disability")
    Region.objects.filter(pk=people.building_2.pk).update(name="二号楼")
    page = listed(client)
    assert "二号楼" in page
    assert "Disability" not in page  # a sensitive group, which a community worker does not see


def test_people_with_other_roles_never_share_an_entry(people, login, client):
    login(people.community_secretary)
    ResidentTag.objects.create(resident=people.neighbour_record, tag="disability")
    secretary_page = listed(client)
    assert "Disability" in secretary_page and "张居民" in secretary_page
    login(people.community_worker)
    assert "Disability" not in listed(client)
    login(people.building_leader)
    assert "张居民" in listed(client) and "李奶奶" not in listed(client)
    login(people.outsider)
    assert "张居民" not in listed(client)


def test_people_with_the_same_roles_share_an_entry(people, login, client, django_assert_num_queries):
    colleague = make_user("13800000078", "同事")
    grant(colleague, Role.COMMUNITY_WORKER, region=people.community)
    login(people.community_worker)
    first = listed(client, "?q=李")
    login(colleague)
    listed(client, "?q=李")  # the colleague's own roles and session are read once
    # The session, the user and the roster versions; the roles, the list and the inbox count from the cache.
    with django_assert_num_queries(3) as queries:
        again = listed(client, "?q=李")
    assert not any("core_resident" in query["sql"] for query in queries.captured_queries)
    assert again.count("李奶奶") == first.count("李奶奶") == 1


def test_each_language_and_query_has_its_own_entry(people, login, client):
    login(people.community_worker)
    english = listed(client)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = listed(client)
    assert "Residents" in english and "住户" in chinese and english != chinese
    assert "李奶奶" not in listed(client, "?q=张") and "李奶奶" in listed(client, "?q=李")


def test_the_live_search_fragment_is_cached_apart_from_the_page(people, login, client):
    login(people.community_worker)
    page = listed(client, "?q=李")
    fragment = client.get(
        reverse("workbench-residents") + "?q=李", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="resident-results"
    ).text
    assert "<h1>" in page and "<h1>" not in fragment and "李奶奶" in fragment


def test_the_api_answers_from_the_cache_with_the_same_body(people, login, client):
    login(people.community_worker)
    first = client.get(API_LIST + "?q=李&limit=5")
    second = client.get(API_LIST + "?q=李&limit=5")
    assert first.json() == second.json()
    assert first.json()["count"] == 1 and first.json()["items"][0]["name"] == "李奶奶"
    assert first["Content-Type"].startswith("application/json")


def test_a_zero_lifetime_turns_the_cache_off(people, settings):
    settings.ROSTER_CACHE_SECONDS = 0
    calls = []
    for _ in range(2):
        cached_roster(people.community_worker, part="t", params=[], build=lambda: calls.append(1))
    assert len(calls) == 2


def test_someone_without_a_scope_is_never_cached(people):
    calls = []
    for _ in range(2):
        cached_roster(people.resident, part="t", params=[], build=lambda: calls.append(1) or "x")
    assert len(calls) == 2


# Under real concurrent transactions


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel transactions run on PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_readers_racing_writers_never_keep_an_old_list(people):
    """Writers add residents in their own transactions while readers fill the cache; once the writers are
    done, the cached count is the true count: no reader stored an old list under a new version."""
    community, worker = people.community, people.community_worker
    writers_done = threading.Event()
    errors: list[BaseException] = []

    def count() -> int:
        worker._role_assignments = None  # each read as a new request would
        return cached_roster(
            worker,
            part="race",
            params=[],
            build=lambda: Resident.objects.filter(community=community).count(),
        )

    def write(index: int) -> None:
        try:
            for number in range(10):
                with transaction.atomic():
                    add_resident(people, f"并发{index}-{number}")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    def read() -> None:
        try:
            while not writers_done.is_set():
                count()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    readers = [threading.Thread(target=read) for _ in range(4)]
    writers = [threading.Thread(target=write, args=(index,)) for index in range(4)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=60)
    writers_done.set()
    for thread in readers:
        thread.join(timeout=60)
    assert not errors, errors
    assert count() == Resident.objects.filter(community=community).count() == 2 + 40


def test_it_keeps_the_permission_check_of_the_view(people, login):
    """A cached page still passes the workbench's own check: a resident gets a 404, not someone's list."""
    login(people.community_worker).get(reverse("workbench-residents"))
    assert login(people.resident).get(reverse("workbench-residents")).status_code == 404
