"""Owners' floor areas from Excel: the check matches each row to a participant by building and room and says
what is wrong with each row; nothing is imported unless every row is right; nothing changes once voting has
opened; the template staff download reads back as it is; anyone but the community's staff gets a 404."""

import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from gongzhi.consultations import floor_areas, services
from gongzhi.consultations.floor_areas import floor_areas_apply, floor_areas_check, parse_area
from gongzhi.consultations.models import Event, Origin, Participant, ParticipantKind
from gongzhi.consultations.rules import DecisionRule
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import AuditEvent, Household
from gongzhi.core.services import region_create, resident_create

HEADER = ("楼栋", "房号", "业主姓名", "专有部分面积")


def workbook(*rows, header=HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    if header:
        sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def upload(data: bytes, name: str = "面积.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def area_of(participant: Participant) -> Decimal:
    return Participant.objects.get(pk=participant.pk).floor_area


@pytest.fixture(autouse=True)
def english(english_messages):
    """Messages in English (the msgids) for every test."""


@pytest.fixture
def owners_rules(people):
    return services.rule_set_create(
        by=people.community_worker,
        region=people.community,
        name="业主共同决定",
        notice_days=3,
        quorum_basis="owners",
        vote_unit="owner",
        decision_rule=DecisionRule.CIVIL_CODE_278,
    )


class Topic:
    """An owners' consultation in preparation, its owners by name and its staff."""

    def __init__(self, consultation, owners, staff):
        self.consultation, self.owners, self.staff = consultation, owners, staff

    def check(self, *rows, **options):
        return floor_areas_check(
            consultation=self.consultation, by=self.staff, upload=upload(workbook(*rows, **options))
        )


@pytest.fixture
def topic(people, owners_rules):
    """加装电梯, decided by the owners: 张居民 (1栋 1-101, no area yet), 李奶奶 (2栋 2-201, 80 m²) and 钱业主
    (1栋 1-102, no area yet)."""
    consultation = services.consultation_propose(
        by=people.community_worker,
        community=people.community,
        rule_set=owners_rules,
        title="加装电梯",
        description="1栋业主提出加装电梯。",
        origin=Origin.COMMITTEE,
    )
    qian = resident_create(created_by=people.admin, region=people.building, name="钱业主", room="1-102")
    owners = {}
    for record, area in ((people.resident_record, 0), (people.neighbour_record, 80), (qian, 0)):
        owners[record.name] = services.participant_add(
            consultation=consultation,
            by=people.community_worker,
            kind=ParticipantKind.OWNER,
            resident=record,
            floor_area=area,
        )
    return Topic(consultation, owners, people.community_worker)


# Reading an area ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "area"),
    [
        (89.5, "89.50"),
        (89.55, "89.55"),
        (120, "120.00"),
        ("89.50", "89.50"),
        (" 89.5㎡ ", "89.50"),
        ("76.3 m²", "76.30"),
        ("89.500", "89.50"),
        (10_000, "10000.00"),
    ],
)
def test_it_reads_an_area_written_as_a_number_or_as_text(cell, area):
    assert parse_area(cell) == (Decimal(area), "", {})


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        (None, "area_missing"),
        ("  ", "area_missing"),
        ("八十", "area_not_number"),
        ("1,234.5", "area_not_number"),
        ("NaN", "area_not_number"),
        (True, "area_not_number"),
        (0, "area_not_positive"),
        (-12.5, "area_not_positive"),
        (10_000.01, "area_too_large"),
        (89.555, "area_decimals"),
        ("89.125", "area_decimals"),
    ],
)
def test_it_refuses_an_area_that_is_not_a_positive_number_of_square_metres_with_two_decimals(cell, code):
    area, error, _params = parse_area(cell)
    assert (area, error) == (None, code)


# The check ---------------------------------------------------------------------------------------------


def test_it_matches_each_row_to_an_owner_by_building_and_room(people, topic):
    check = topic.check(
        ("1栋", "1-101", "张居民", 89.5), ("2栋", "2-201", "李奶奶", 80), ("1栋", "1-102", "", 102.35)
    )
    assert not check.errors
    assert [(row.participant.name, row.participant.floor_area, row.area) for row in check.rows] == [
        ("张居民", Decimal("0.00"), Decimal("89.50")),
        ("李奶奶", Decimal("80.00"), Decimal("80.00")),
        ("钱业主", Decimal("0.00"), Decimal("102.35")),
    ]
    assert [row.participant.name for row in check.changes] == ["张居民", "钱业主"]
    assert check.unchanged == 1 and check.unlisted == [] and check.plan


def test_it_writes_nothing_when_checking(people, topic):
    events = Event.objects.count()
    topic.check(("1栋", "1-101", "张居民", 89.5))
    assert area_of(topic.owners["张居民"]) == 0 and Event.objects.count() == events


def test_it_reads_a_building_named_with_its_compound_english_headers_and_a_unit_in_a_header(people, topic):
    check = topic.check(
        ("清波院落/1栋", "1-101", 89.5, "张居民"), header=("building", "room", "floor_area (m²)", "name")
    )
    assert not check.errors and check.rows[0].participant == topic.owners["张居民"]


def test_it_lists_the_owners_the_file_leaves_as_they_are(people, topic):
    check = topic.check(("1栋", "1-101", "张居民", 89.5))
    assert {participant.name for participant in check.unlisted} == {"李奶奶", "钱业主"}


def test_it_matches_a_household_taking_part_by_its_room(people, topic):
    resident_create(created_by=people.admin, region=people.building, name="周邻居", room="1-201")
    household = services.participant_add(
        consultation=topic.consultation,
        by=people.community_worker,
        kind="household",
        household=Household.objects.get(region=people.building, number="1-201"),
    )
    assert topic.check(("1栋", "1-201", "周邻居", 70)).rows[0].participant == household


def test_it_tells_apart_two_participants_of_one_room_by_the_owners_name(people, topic):
    services.participant_add(
        consultation=topic.consultation,
        by=people.community_worker,
        kind="household",
        household=Household.objects.get(region=people.building, number="1-101"),
    )
    assert topic.check(("1栋", "1-101", "张居民", 89.5)).rows[0].participant == topic.owners["张居民"]
    assert topic.check(("1栋", "1-101", "", 89.5)).rows[0].errors == [
        "Several participants hold this room; write the owner's name as on the participant list."
    ]


def test_it_matches_an_owner_without_a_room_by_building_and_name(people, topic):
    roomless = resident_create(created_by=people.admin, region=people.building_2, name="孙业主")
    owner = services.participant_add(
        consultation=topic.consultation, by=people.community_worker, kind="owner", resident=roomless
    )
    assert topic.check(("2栋", "", "孙业主", 66)).rows[0].participant == owner


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("", "1-101", "张居民", 89.5), "Enter the building."),
        (("9栋", "1-101", "张居民", 89.5), "There is no building called “9栋” in this community."),
        (("1栋", "1-909", "张居民", 89.5), "There is no room “1-909” in 1栋 on the roster."),
        (("1栋", "", "张居民", 89.5), "Enter the room."),
        (("1栋", "1-101", "王五", 89.5), "The participant of this room is 张居民, not 王五."),
        (("1栋", "1-101", "张居民", ""), "Enter the floor area, or delete the row."),
        (
            ("1栋", "1-101", "张居民", "大约九十"),
            "Write the floor area as a number of square metres, e.g. 89.5.",
        ),
        (("1栋", "1-101", "张居民", 0), "The floor area must be more than zero."),
        (
            ("1栋", "1-101", "张居民", 89000),
            "A floor area above 10,000 m² cannot be right; check the number.",
        ),
        (("1栋", "1-101", "张居民", 89.505), "Write the floor area with at most two decimals."),
    ],
)
def test_it_says_what_is_wrong_with_a_row(people, topic, row, message):
    check = topic.check(row)
    assert check.rows[0].errors == [message] and not check.changes and not check.plan


def test_it_refuses_a_room_of_the_community_that_does_not_take_part(people, topic):
    resident_create(created_by=people.admin, region=people.building, name="周邻居", room="1-201")
    check = topic.check(("1栋", "1-201", "周邻居", 70))
    assert check.rows[0].errors == [
        "1栋 1-201 is not an owner or household taking part in this consultation."
    ]


def test_it_refuses_a_room_of_another_community(people, topic):
    check = topic.check(("吉福1栋", "1-1", "王吉福", 70))
    assert check.rows[0].errors == ["There is no building called “吉福1栋” in this community."]


def test_it_refuses_a_second_row_for_the_same_owner(people, topic):
    check = topic.check(("1栋", "1-101", "张居民", 89.5), ("1栋", "1-101", "张居民", 90))
    assert [row.errors for row in check.rows] == [[], ["张居民 is already in row 2 of this file."]]
    assert not check.plan


def test_it_reports_every_error_of_a_row_with_its_excel_row_number(people, topic):
    check = topic.check(("1栋", "1-101", "张居民", 89.5), (), ("9栋", "", "", -1))
    [bad] = check.errors
    assert bad.number == 4  # the empty line is skipped but counted, as Excel counts it
    assert bad.errors == [
        "There is no building called “9栋” in this community.",
        "The floor area must be more than zero.",
    ]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"building,room,area\n1,1,1\n", "areas.csv", "Only Excel workbooks (.xlsx) can be imported"),
        (b"not a zip archive", "areas.xlsx", "This file could not be read as an Excel workbook (.xlsx)."),
        (workbook(header=HEADER), "areas.xlsx", "The file holds no rows below the header row."),
        (
            workbook(("1栋", "1-101", "张居民"), header=("楼栋", "房号", "业主姓名")),
            "areas.xlsx",
            "these are missing: 专有部分面积",
        ),
        (
            workbook(("1栋", "1-101", 1, 2), header=("楼栋", "房号", "面积", "专有部分面积")),
            "areas.xlsx",
            "The column “专有部分面积” appears twice in the header row.",
        ),
    ],
)
def test_it_refuses_a_file_it_cannot_read_as_a_whole(people, topic, data, name, message):
    with pytest.raises(ServiceError, match=re.escape(message)):
        floor_areas_check(consultation=topic.consultation, by=topic.staff, upload=upload(data, name))


def test_it_refuses_rules_that_do_not_count_floor_area(people, committee_topic):
    with pytest.raises(ServiceError, match="These rules do not count floor area."):
        floor_areas_check(
            consultation=committee_topic,
            by=people.community_worker,
            upload=upload(workbook(("1栋", "1-101", "张居民", 89.5))),
        )


def test_it_refuses_anyone_but_the_communitys_staff(people, topic):
    with pytest.raises(ServiceError, match="Only the community's staff can do that."):
        floor_areas_check(
            consultation=topic.consultation,
            by=people.resident,
            upload=upload(workbook(("1栋", "1-101", "", 9))),
        )


# Applying ---------------------------------------------------------------------------------------------------


def test_it_imports_every_area_of_a_clean_file_and_records_it(people, topic):
    check = topic.check(("1栋", "1-101", "张居民", 89.5), ("1栋", "1-102", "钱业主", 102.35))
    changed = floor_areas_apply(consultation=topic.consultation, by=topic.staff, plan=check.plan)
    assert {participant.name for participant in changed} == {"张居民", "钱业主"}
    assert area_of(topic.owners["张居民"]) == Decimal("89.50")
    assert area_of(topic.owners["钱业主"]) == Decimal("102.35")
    assert area_of(topic.owners["李奶奶"]) == Decimal("80.00")
    event = topic.consultation.events.latest("at", "pk")
    assert (event.kind, event.actor, event.note) == (
        Event.Kind.PARTICIPANTS,
        topic.staff,
        "Floor areas of 2 participants set from a workbook",
    )


def test_it_offers_nothing_to_import_when_one_row_fails(people, topic):
    check = topic.check(("1栋", "1-101", "张居民", 89.5), ("1栋", "1-102", "钱业主", -3))
    assert len(check.changes) == 1 and len(check.errors) == 1
    assert check.plan == ""


def test_it_imports_nothing_if_an_area_changed_after_the_check(people, topic):
    check = topic.check(("1栋", "1-101", "张居民", 89.5), ("1栋", "1-102", "钱业主", 102.35))
    Participant.objects.filter(pk=topic.owners["钱业主"].pk).update(floor_area=Decimal("99"))
    with pytest.raises(ServiceError, match="changed after this file was checked"):
        floor_areas_apply(consultation=topic.consultation, by=topic.staff, plan=check.plan)
    assert area_of(topic.owners["张居民"]) == 0  # the first row was not written either


def test_it_imports_a_checked_file_once(people, topic):
    check = topic.check(("1栋", "1-101", "张居民", 89.5))
    floor_areas_apply(consultation=topic.consultation, by=topic.staff, plan=check.plan)
    with pytest.raises(ServiceError, match="it has been imported already"):
        floor_areas_apply(consultation=topic.consultation, by=topic.staff, plan=check.plan)


@pytest.mark.parametrize("tamper", ["forged", "other_staff", "expired"])
def test_it_refuses_a_plan_it_did_not_sign_for_this_user_or_that_is_too_old(
    people, topic, tamper, monkeypatch
):
    check = topic.check(("1栋", "1-101", "张居民", 89.5))
    plan, by = check.plan, topic.staff
    if tamper == "forged":
        plan = plan[:-3] + ("AAA" if not plan.endswith("AAA") else "BBB")
    elif tamper == "other_staff":
        by = people.community_secretary
    else:
        monkeypatch.setattr(floor_areas, "PLAN_MAX_AGE", -1)
    with pytest.raises(ServiceError, match="upload the file again"):
        floor_areas_apply(consultation=topic.consultation, by=by, plan=plan)
    assert area_of(topic.owners["张居民"]) == 0


def test_it_refuses_to_change_areas_once_voting_has_opened(people, topic, start_voting):
    check = topic.check(("1栋", "1-101", "张居民", 89.5))
    start_voting(topic.consultation)
    topic.consultation.refresh_from_db()
    message = "Voting has opened: the roll and its floor areas are frozen"
    with pytest.raises(ServiceError, match=message):
        floor_areas_apply(consultation=topic.consultation, by=topic.staff, plan=check.plan)
    with pytest.raises(ServiceError, match=message):
        topic.check(("1栋", "1-101", "张居民", 89.5))
    assert area_of(topic.owners["张居民"]) == 0


# The pages ------------------------------------------------------------------------------------------------


@pytest.fixture
def as_(client):
    def sign_in(user):
        client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return sign_in


def page_url(topic, name: str = "floor_areas") -> str:
    return reverse(f"consultations:{name}", args=[topic.consultation.pk])


def post_file(client, topic, data: bytes, name: str = "面积.xlsx"):
    return client.post(page_url(topic), {"file": upload(data, name)})


def test_it_previews_the_changes_and_imports_them_on_confirmation(people, topic, as_):
    client = as_(people.community_worker)
    assert client.get(page_url(topic)).status_code == 200
    preview = post_file(client, topic, workbook(("1栋", "1-101", "张居民", 89.5)))
    assert preview.status_code == 200
    page = preview.content.decode()
    assert 'data-testid="floor-areas-confirm"' in page and "Import 1 floor area" in page
    assert area_of(topic.owners["张居民"]) == 0
    applied = client.post(page_url(topic, "floor_areas_apply"), {"plan": preview.context["check"].plan})
    assert applied.status_code == 200
    assert "The floor area of 1 participant was updated." in applied.content.decode()
    assert reverse("consultations:manage", args=[topic.consultation.pk]) in applied.content.decode()
    assert area_of(topic.owners["张居民"]) == Decimal("89.50")


def test_it_shows_each_rows_errors_and_no_confirmation_when_a_row_fails(people, topic, as_):
    client = as_(people.community_worker)
    response = post_file(
        client, topic, workbook(("1栋", "1-101", "张居民", 89.5), ("1栋", "1-909", "钱业主", 100))
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="error-row-3"' in page and "There is no room “1-909” in 1栋 on the roster." in page
    assert 'data-testid="floor-areas-confirm"' not in page
    assert area_of(topic.owners["张居民"]) == 0


def test_it_shows_why_a_file_is_refused_and_changes_nothing(people, topic, as_):
    response = post_file(as_(people.community_worker), topic, b"id,area\n", "areas.csv")
    assert response.status_code == 400
    assert "Only Excel workbooks (.xlsx) can be imported" in response.content.decode()


def test_it_shows_a_refused_confirmation_with_status_400(people, topic, as_):
    response = as_(people.community_worker).post(page_url(topic, "floor_areas_apply"), {"plan": "nonsense"})
    assert response.status_code == 400
    assert "This check could not be read; upload the file again." in response.content.decode()


def test_it_shows_that_the_areas_are_frozen_once_voting_has_opened(people, topic, as_, start_voting):
    start_voting(topic.consultation)
    client = as_(people.community_worker)
    page = client.get(page_url(topic)).content.decode()
    assert 'data-testid="floor-areas-refused"' in page and 'data-testid="floor-areas-upload"' not in page
    response = post_file(client, topic, workbook(("1栋", "1-101", "张居民", 89.5)))
    assert response.status_code == 400 and area_of(topic.owners["张居民"]) == 0


@pytest.mark.parametrize("who", ["outsider", "resident", "district_officer"])
@pytest.mark.parametrize("name", ["floor_areas", "floor_areas_template"])
def test_it_answers_404_to_anyone_without_the_right_over_the_community(people, topic, as_, who, name):
    assert as_(getattr(people, who)).get(page_url(topic, name)).status_code == 404


@pytest.mark.parametrize("who", ["outsider", "resident"])
def test_it_answers_404_to_an_upload_or_a_confirmation_from_outside(people, topic, as_, who):
    plan = topic.check(("1栋", "1-101", "张居民", 89.5)).plan
    client = as_(getattr(people, who))
    assert post_file(client, topic, workbook(("1栋", "1-101", "张居民", 89.5))).status_code == 404
    assert client.post(page_url(topic, "floor_areas_apply"), {"plan": plan}).status_code == 404
    assert area_of(topic.owners["张居民"]) == 0


def test_the_template_round_trips(people, topic, as_):
    client = as_(people.community_worker)
    response = client.get(page_url(topic, "floor_areas_template"))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows == [
        ["building", "room", "name", "floor_area"],
        ["清波院落/1栋", "1-101", "张居民", None],
        ["清波院落/1栋", "1-102", "钱业主", None],
        ["清波院落/2栋", "2-201", "李奶奶", 80],
    ]
    for row, area in zip(sheet.iter_rows(min_row=2), (91.2, 102.35, 80.5), strict=True):
        row[3].value = area
    filled = io.BytesIO()
    book.save(filled)
    preview = post_file(client, topic, filled.getvalue())
    assert not preview.context["check"].errors and len(preview.context["check"].changes) == 3
    client.post(page_url(topic, "floor_areas_apply"), {"plan": preview.context["check"].plan})
    assert [area_of(topic.owners[name]) for name in ("张居民", "钱业主", "李奶奶")] == [
        Decimal("91.20"),
        Decimal("102.35"),
        Decimal("80.50"),
    ]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, actor=people.community_worker).exists()


def test_the_template_has_chinese_headers_on_a_chinese_page(people, topic, client):
    client.force_login(people.community_worker)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    response = client.get(page_url(topic, "floor_areas_template"))
    header = next(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert list(header) == list(HEADER)


def test_the_manage_page_links_to_the_import_only_when_the_rules_count_floor_area(
    people, topic, committee_topic, as_
):
    client = as_(people.community_worker)
    manage = reverse("consultations:manage", args=[topic.consultation.pk])
    assert page_url(topic) in client.get(manage).content.decode()
    ordinary = client.get(reverse("consultations:manage", args=[committee_topic.pk])).content.decode()
    assert 'data-testid="floor-areas-link"' not in ordinary


def test_the_preview_of_many_rows_takes_a_bounded_number_of_queries(
    people, topic, as_, django_assert_max_num_queries
):
    building = region_create(parent=people.compound, name="3栋", level="building")
    rooms = [f"{floor}-{door:02d}" for floor in range(1, 21) for door in range(1, 11)]
    Household.objects.bulk_create(
        Household(community=people.community, region=building, number=room) for room in rooms
    )
    assert services.participants_add_region(
        consultation=topic.consultation, by=people.community_worker, region=building, households=True
    ) == len(rooms)
    data = workbook(*[("3栋", room, "", 60 + index / 4) for index, room in enumerate(rooms)])
    client = as_(people.community_worker)
    with django_assert_max_num_queries(10):
        response = post_file(client, topic, data)
    assert len(response.context["check"].changes) == len(rooms)
    assert not response.context["check"].errors
