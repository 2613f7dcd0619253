"""The matters services: reporting, the handling state machine, escalation, calling in departments, the
timeline and who hears of what. Every refusal is a ServiceError that leaves the database as it was."""

import datetime
import io
import logging
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.urls import reverse
from PIL import ExifTags, Image

from conftest import make_user
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Notification, Resident
from gongzhi.core.workdays import add_working_days
from gongzhi.matters import services
from gongzhi.matters.models import (
    Category,
    CoHandler,
    Confirmation,
    DeadlineUnit,
    Event,
    Follower,
    Matter,
    MatterPhoto,
    Status,
    Tier,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
Kind = Event.Kind


def at(year, month, day, hour=0, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def neighbour(db):
    """Another resident of the compound, with an account and no role."""
    return make_user("13800000020", "李邻居")


def jpeg_with_gps(name: str = "photo.jpg") -> SimpleUploadedFile:
    """A real, tiny JPEG carrying the camera make and a GPS position in its EXIF block."""
    image = Image.new("RGB", (16, 12), (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (30.0, 40.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (104.0, 2.0, 30.0)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def row(matter: Matter) -> dict:
    return Matter.objects.filter(pk=matter.pk).values().get()


def events(matter: Matter) -> list[str]:
    return list(Event.objects.filter(matter=matter).order_by("id").values_list("kind", flat=True))


def nothing_written() -> bool:
    return not (Matter.objects.exists() or Event.objects.exists() or MatterPhoto.objects.exists())


# Bringing a matter to each status ---------------------------------------------------------------------


def bring_to(status: str, *, people, report, original: Matter) -> Matter:
    """A repairs matter of 1栋, at compound tier, brought to `status` by its compound leader and reporter."""
    matter = report("repairs")
    leader = people.compound_leader
    if status == Status.DUPLICATE:
        return services.matter_mark_duplicate(matter=matter, handler=leader, original=original)
    if status == Status.WITHDRAWN:
        return services.matter_withdraw(matter=matter, user=people.resident)
    if status != Status.SUBMITTED:
        services.matter_accept(matter=matter, handler=leader)
    if status in (Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED):
        services.matter_start(matter=matter, handler=leader)
    if status in (Status.RESOLVED, Status.CLOSED):
        services.matter_resolve(matter=matter, handler=leader, note="已修好")
    if status == Status.CLOSED:
        services.matter_confirm(matter=matter, user=people.resident, resolved=True, rating=4)
    matter.refresh_from_db()
    assert matter.status == status
    return matter


# action: (how to do it, {status it may start from: status it ends in})
ACTIONS = {
    "accept": (
        lambda people, matter, original: services.matter_accept(
            matter=matter, handler=people.compound_leader
        ),
        {Status.SUBMITTED: Status.ACCEPTED},
    ),
    "start": (
        lambda people, matter, original: services.matter_start(matter=matter, handler=people.compound_leader),
        {Status.ACCEPTED: Status.IN_PROGRESS},
    ),
    "resolve": (
        lambda people, matter, original: services.matter_resolve(
            matter=matter, handler=people.compound_leader, note="换了新灯泡"
        ),
        {Status.ACCEPTED: Status.RESOLVED, Status.IN_PROGRESS: Status.RESOLVED},
    ),
    "confirm_resolved": (
        lambda people, matter, original: services.matter_confirm(
            matter=matter, user=people.resident, resolved=True, rating=5
        ),
        {Status.RESOLVED: Status.CLOSED},
    ),
    "confirm_not_resolved": (
        lambda people, matter, original: services.matter_confirm(
            matter=matter, user=people.resident, resolved=False
        ),
        {Status.RESOLVED: Status.IN_PROGRESS},
    ),
    "escalate": (
        lambda people, matter, original: services.matter_escalate(
            matter=matter, handler=people.compound_leader, reason="需要社区协调"
        ),
        {
            Status.SUBMITTED: Status.SUBMITTED,
            Status.ACCEPTED: Status.SUBMITTED,
            Status.IN_PROGRESS: Status.SUBMITTED,
        },
    ),
    "return": (
        lambda people, matter, original: services.matter_return(
            matter=matter, handler=people.compound_leader, reason="不归院落管"
        ),
        {Status.SUBMITTED: Status.SUBMITTED, Status.ACCEPTED: Status.SUBMITTED},
    ),
    "duplicate": (
        lambda people, matter, original: services.matter_mark_duplicate(
            matter=matter, handler=people.compound_leader, original=original
        ),
        {
            Status.SUBMITTED: Status.DUPLICATE,
            Status.ACCEPTED: Status.DUPLICATE,
            Status.IN_PROGRESS: Status.DUPLICATE,
        },
    ),
    "withdraw": (
        lambda people, matter, original: services.matter_withdraw(matter=matter, user=people.resident),
        {
            Status.SUBMITTED: Status.WITHDRAWN,
            Status.ACCEPTED: Status.WITHDRAWN,
            Status.IN_PROGRESS: Status.WITHDRAWN,
        },
    ),
}
ALLOWED = [(action, status) for action, (_do, moves) in ACTIONS.items() for status in moves]
REFUSED = [
    (action, status)
    for action, (_do, moves) in ACTIONS.items()
    for status in Status.values
    if status not in moves
]


@pytest.mark.parametrize(("action", "status"), ALLOWED)
def test_it_makes_each_allowed_transition_with_one_event(people, report, action, status):
    original = report("repairs", description="另一处灯坏了")
    matter = bring_to(status, people=people, report=report, original=original)
    before = Event.objects.filter(matter=matter).count()
    do, moves = ACTIONS[action]
    do(people, matter, original)
    matter.refresh_from_db()
    assert matter.status == moves[status]
    assert matter.tier == (Tier.COMMUNITY if action in ("escalate", "return") else Tier.COMPOUND)
    assert Event.objects.filter(matter=matter).count() == before + 1


@pytest.mark.parametrize(("action", "status"), REFUSED)
def test_it_refuses_each_transition_not_allowed_now_and_changes_nothing(
    people, report, action, status, django_capture_on_commit_callbacks
):
    original = report("repairs", description="另一处灯坏了")
    matter = bring_to(status, people=people, report=report, original=original)
    before, event_count, followers = row(matter), Event.objects.count(), Follower.objects.count()
    do, _moves = ACTIONS[action]
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ServiceError):
        do(people, matter, original)
    assert row(matter) == before
    assert (Event.objects.count(), Follower.objects.count()) == (event_count, followers)
    assert callbacks == []


# Reporting --------------------------------------------------------------------------------------------


def test_it_reports_a_matter_that_the_reporter_follows(people, report):
    matter = report("repairs", description="  1栋楼道灯坏了\n晚上看不见  ", urgency="urgent", hide_name=True)
    assert (matter.status, matter.reporter, matter.entered_by) == (
        Status.SUBMITTED,
        people.resident,
        people.resident,
    )
    assert matter.description == "1栋楼道灯坏了\n晚上看不见"
    assert (matter.urgency, matter.hide_name, matter.is_private) == ("urgent", True, False)
    assert list(Follower.objects.filter(matter=matter).values_list("user", "me_too")) == [
        (people.resident.pk, False)
    ]
    assert events(matter) == [Kind.SUBMITTED]


def test_a_private_category_makes_a_private_matter(report):
    assert report("neighbour-dispute", description="楼上漏水不肯修").is_private is True


def test_it_keeps_coordinates(report):
    matter = report(latitude=30.67, longitude=104.06)
    matter.refresh_from_db()
    assert (float(matter.latitude), float(matter.longitude)) == (30.67, 104.06)


def test_a_description_of_exactly_4000_characters_is_accepted(report):
    assert len(report(description="灯" * 4000).description) == 4000


def switched_off(category: Category) -> Category:
    Category.objects.filter(pk=category.pk).update(is_active=False)
    return Category.objects.get(pk=category.pk)


BAD_REPORTS = {
    "empty description": (lambda people, categories: {"description": ""}, "description"),
    "blank description": (lambda people, categories: {"description": " \n\t "}, "description"),
    "description over 4000": (lambda people, categories: {"description": "灯" * 4001}, "description"),
    "a street is not in a community": (lambda people, categories: {"region": people.street}, "region"),
    "a district is not in a community": (lambda people, categories: {"region": people.district}, "region"),
    "latitude without longitude": (lambda people, categories: {"latitude": 30.67}, "latitude"),
    "longitude without latitude": (lambda people, categories: {"longitude": 104.06}, "latitude"),
    "latitude off Earth": (lambda people, categories: {"latitude": 91, "longitude": 104.06}, "latitude"),
    "longitude off Earth": (lambda people, categories: {"latitude": 30.67, "longitude": -180.5}, "latitude"),
    "unknown urgency": (lambda people, categories: {"urgency": "yesterday"}, "urgency"),
    "category of another community": (
        lambda people, categories: {
            "category": services.category_configure(
                user=people.outsider,
                community=people.other_community,
                code="repairs",
                first_tier=Tier.COMMUNITY,
                response_amount=1,
                response_unit=DeadlineUnit.WORKING_DAYS,
                resolution_amount=5,
                resolution_unit=DeadlineUnit.WORKING_DAYS,
            )
        },
        "category",
    ),
    "category no longer in use": (
        lambda people, categories: {"category": switched_off(categories["parking"])},
        "category",
    ),
    "ten photos": (
        lambda people, categories: {"photos": [jpeg_with_gps(f"{n}.jpg") for n in range(10)]},
        "photos",
    ),
    "a text file as a photo": (
        lambda people, categories: {
            "photos": [
                jpeg_with_gps(),
                SimpleUploadedFile("notes.jpg", b"not an image", content_type="image/jpeg"),
            ]
        },
        "photos",
    ),
    "a PDF as a photo": (
        lambda people, categories: {
            "photos": [
                SimpleUploadedFile(
                    "scan.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", content_type="application/pdf"
                )
            ]
        },
        "photos",
    ),
}


@pytest.mark.parametrize("case", BAD_REPORTS)
def test_bad_input_is_refused_and_writes_nothing(people, categories, case):
    make_fields, field = BAD_REPORTS[case]
    fields = {
        "entered_by": people.resident,
        "category": categories["parking"],
        "description": "小区门口乱停车",
        "region": people.building,
    } | make_fields(people, categories)
    with pytest.raises(ServiceError) as refused:
        services.matter_report(**fields)
    assert refused.value.field == field
    assert str(refused.value.message)
    assert nothing_written()


def test_it_stores_photos_without_their_exif(people, report, media_root):
    upload = jpeg_with_gps("楼道.jpg")
    assert Image.open(io.BytesIO(upload.read())).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    upload.seek(0)
    matter = report(photos=[upload, jpeg_with_gps("second.jpg")])
    photos = list(matter.photos.all())
    assert [(p.stage, p.uploaded_by) for p in photos] == [(MatterPhoto.Stage.REPORT, people.resident)] * 2
    for photo in photos:
        assert (media_root / photo.image.name).is_file()
        with photo.image.open("rb") as stored, Image.open(stored) as image:
            assert image.format == "JPEG"
            assert image.size == (16, 12)
            assert len(image.getexif()) == 0
            assert "exif" not in image.info


def test_nine_photos_are_accepted(report):
    assert report(photos=[jpeg_with_gps(f"{n}.jpg") for n in range(9)]).photos.count() == 9


# Reporting for someone else ---------------------------------------------------------------------------


def test_a_grid_worker_reports_for_a_resident_without_an_account(people, report):
    matter = report(
        "repairs", by=people.grid_worker, on_behalf_of=people.neighbour_record, region=people.building_2
    )
    assert (matter.reporter, matter.entered_by, matter.on_behalf_of) == (
        None,
        people.grid_worker,
        people.neighbour_record,
    )
    assert Event.objects.get(matter=matter).actor == people.grid_worker
    # Who entered it answers for the resident: the grid worker may withdraw it.
    assert services.is_reporter(people.grid_worker, matter)
    services.matter_withdraw(matter=matter, user=people.grid_worker, reason="李奶奶说已经好了")
    assert Matter.objects.get(pk=matter.pk).status == Status.WITHDRAWN


def test_a_matter_reported_for_a_resident_with_an_account_is_theirs(people, report):
    record = Resident.objects.get(pk=people.resident_record.pk)
    matter = report("repairs", by=people.building_leader, on_behalf_of=record)
    assert (matter.reporter, matter.entered_by) == (people.resident, people.building_leader)
    assert list(Follower.objects.filter(matter=matter).values_list("user", flat=True)) == [people.resident.pk]
    assert not services.is_reporter(people.building_leader, matter)


@pytest.mark.parametrize("who", ["outsider", "building_leader", "resident", "street_officer"])
def test_reporting_for_a_resident_outside_ones_scope_is_refused(people, report, who):
    # The building leader of 1栋 does not answer for 李奶奶 of 2栋; officers do not report for residents.
    with pytest.raises(ServiceError) as refused:
        report(
            "repairs", by=getattr(people, who), on_behalf_of=people.neighbour_record, region=people.building_2
        )
    assert refused.value.field == "on_behalf_of"
    assert nothing_written()


# Who may act ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who",
    [
        "community_worker",
        "community_secretary",
        "street_officer",
        "district_officer",
        "grid_worker",
        "building_leader",
        "outsider",
        "resident",
    ],
)
def test_only_the_handlers_at_the_current_tier_may_accept(people, report, who):
    matter = report("repairs")
    before = row(matter)
    with pytest.raises(ServiceError):
        services.matter_accept(matter=matter, handler=getattr(people, who))
    assert row(matter) == before
    assert events(matter) == [Kind.SUBMITTED]


@pytest.mark.parametrize(
    "act",
    [
        lambda people, matter, user: services.matter_start(matter=matter, handler=user),
        lambda people, matter, user: services.matter_resolve(matter=matter, handler=user, note="好了"),
        lambda people, matter, user: services.matter_escalate(matter=matter, handler=user, reason="上报"),
        lambda people, matter, user: services.matter_return(matter=matter, handler=user, reason="不归我们"),
    ],
    ids=["start", "resolve", "escalate", "return"],
)
def test_a_community_worker_cannot_handle_a_matter_at_compound_tier(people, report, act):
    matter = report("repairs")
    services.matter_accept(matter=matter, handler=people.compound_leader)
    before = row(matter)
    with pytest.raises(ServiceError):
        act(people, matter, people.community_worker)
    assert row(matter) == before


def test_after_escalation_the_next_tier_handles_it_and_the_compound_no_longer_does(people, report):
    matter = report("repairs")
    services.matter_escalate(matter=matter, handler=people.compound_leader, reason="涉及公共维修资金")
    with pytest.raises(ServiceError):
        services.matter_accept(matter=matter, handler=people.compound_leader)
    services.matter_accept(matter=matter, handler=people.community_secretary)
    assert Matter.objects.get(pk=matter.pk).status == Status.ACCEPTED


def test_the_second_to_accept_is_told_it_is_taken(people, report):
    matter = report("parking")
    services.matter_accept(matter=matter, handler=people.community_worker)
    with pytest.raises(ServiceError, match="already been accepted"):
        services.matter_accept(matter=matter, handler=people.community_secretary)
    assert events(matter) == [Kind.SUBMITTED, Kind.ACCEPTED]
    assert Event.objects.get(matter=matter, kind=Kind.ACCEPTED).actor == people.community_worker


# First response ---------------------------------------------------------------------------------------


def test_it_records_the_first_response_in_working_time(people, report):
    matter = report("repairs", now=at(2026, 3, 13, 18))  # a Friday evening
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 3, 16, 9))
    matter.refresh_from_db()
    assert matter.first_response_at == at(2026, 3, 16, 9)
    assert matter.response_seconds == 15 * 3600  # 6 hours on Friday, 9 on Monday


def test_the_first_response_across_national_day_counts_only_working_hours(people, report):
    matter = report("repairs", now=at(2026, 9, 30, 20))
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 10, 8, 8, 30))
    assert Matter.objects.get(pk=matter.pk).response_seconds == int(12.5 * 3600)


def test_accepting_again_at_the_next_tier_keeps_the_first_response(people, report):
    matter = report("repairs", now=at(2026, 3, 16, 9))
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 3, 16, 10))
    services.matter_escalate(
        matter=matter, handler=people.compound_leader, reason="需要社区", now=at(2026, 3, 17, 9)
    )
    services.matter_accept(matter=matter, handler=people.community_worker, now=at(2026, 3, 17, 11))
    matter.refresh_from_db()
    assert (matter.first_response_at, matter.response_seconds) == (at(2026, 3, 16, 10), 3600)


# Resolving and confirming -----------------------------------------------------------------------------


@pytest.mark.parametrize("note", ["", "   \n "])
def test_resolving_needs_a_note(people, report, note):
    matter = report("repairs")
    services.matter_accept(matter=matter, handler=people.compound_leader)
    before = row(matter)
    with pytest.raises(ServiceError) as refused:
        services.matter_resolve(matter=matter, handler=people.compound_leader, note=note)
    assert refused.value.field == "note"
    assert row(matter) == before


def test_it_resolves_with_a_note_and_photos_at_the_current_tier(people, report):
    matter = report("repairs", now=at(2026, 3, 16, 9))
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 3, 16, 9, 30))
    services.matter_resolve(
        matter=matter,
        handler=people.compound_leader,
        note="已更换灯泡",
        photos=[jpeg_with_gps()],
        now=at(2026, 3, 16, 15),
    )
    matter.refresh_from_db()
    assert (matter.status, matter.resolved_at, matter.first_resolved_at, matter.resolved_tier) == (
        Status.RESOLVED,
        at(2026, 3, 16, 15),
        at(2026, 3, 16, 15),
        Tier.COMPOUND,
    )
    assert list(matter.photos.values_list("stage", "uploaded_by")) == [
        (MatterPhoto.Stage.RESOLUTION, people.compound_leader.pk)
    ]


@pytest.fixture
def resolved(people, report) -> Matter:
    matter = report("repairs")
    services.matter_accept(matter=matter, handler=people.compound_leader)
    return services.matter_resolve(matter=matter, handler=people.compound_leader, note="已更换灯泡")


@pytest.mark.parametrize("rating", [1, 5])
def test_the_reporter_confirms_with_a_rating_from_1_to_5(people, resolved, rating):
    services.matter_confirm(
        matter=resolved, user=people.resident, resolved=True, rating=rating, comment="很及时"
    )
    resolved.refresh_from_db()
    assert (resolved.status, resolved.confirmation, resolved.rating, resolved.rating_comment) == (
        Status.CLOSED,
        Confirmation.RESOLVED,
        rating,
        "很及时",
    )
    assert resolved.closed_at is not None


@pytest.mark.parametrize("rating", [None, 0, 6, -1])
def test_confirming_resolved_needs_a_rating_from_1_to_5(people, resolved, rating):
    before = row(resolved)
    with pytest.raises(ServiceError) as refused:
        services.matter_confirm(matter=resolved, user=people.resident, resolved=True, rating=rating)
    assert refused.value.field == "rating"
    assert row(resolved) == before


@pytest.mark.parametrize("who", ["compound_leader", "community_worker", "follower"])
def test_only_the_reporter_confirms(people, resolved, neighbour, who):
    user = neighbour if who == "follower" else getattr(people, who)
    if who == "follower":
        services.matter_me_too(matter=resolved, user=neighbour)
    before = row(resolved)
    with pytest.raises(ServiceError):
        services.matter_confirm(matter=resolved, user=user, resolved=True, rating=5)
    assert row(resolved) == before


def test_not_resolved_reopens_once_and_then_closes_as_not_resolved(people, resolved):
    leader = people.compound_leader
    services.matter_confirm(matter=resolved, user=people.resident, resolved=False, comment="灯还是不亮")
    resolved.refresh_from_db()
    assert (resolved.status, resolved.reopen_count, resolved.resolved_at, resolved.resolved_tier) == (
        Status.IN_PROGRESS,
        1,
        None,
        "",
    )
    assert resolved.reopened_at is not None and resolved.first_resolved_at is not None
    services.matter_resolve(matter=resolved, handler=leader, note="换了整套灯具")
    services.matter_confirm(
        matter=resolved, user=people.resident, resolved=False, rating=2, comment="还是不亮"
    )
    resolved.refresh_from_db()
    assert services.MAX_REOPENS == 1
    assert (resolved.status, resolved.confirmation, resolved.reopen_count, resolved.rating) == (
        Status.CLOSED,
        Confirmation.NOT_RESOLVED,
        1,
        2,
    )
    assert events(resolved)[-3:] == [Kind.REOPENED, Kind.RESOLVED, Kind.CLOSED_UNRESOLVED]


# Escalating and returning -----------------------------------------------------------------------------


def test_escalating_moves_up_with_a_reason_and_restarts_only_the_tier_deadlines(people, report):
    matter = report("repairs", now=at(2026, 9, 30, 10))
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 9, 30, 11))
    services.matter_escalate(
        matter=matter, handler=people.compound_leader, reason="需要动用维修基金", now=at(2026, 10, 9, 15)
    )
    matter.refresh_from_db()
    assert (matter.status, matter.tier, matter.handling_region, matter.entry_tier) == (
        Status.SUBMITTED,
        Tier.COMMUNITY,
        people.community,
        Tier.COMPOUND,
    )
    assert matter.escalations_by_hand == 1
    assert matter.escalations_by_deadline == 0
    # The new tier gets 1 and 7 working days from now (Oct 10 is a make-up Saturday)...
    assert (matter.tier_response_due, matter.tier_due) == (at(2026, 10, 10, 15), at(2026, 10, 19, 15))
    # ...while the reporter was promised the first tier's deadlines, which stay.
    assert (matter.response_due, matter.resolution_due) == (at(2026, 10, 8, 10), at(2026, 10, 15, 10))
    escalated = Event.objects.get(matter=matter, kind=Kind.ESCALATED)
    assert (escalated.actor, escalated.note, escalated.tier, escalated.status) == (
        people.compound_leader,
        "需要动用维修基金",
        Tier.COMMUNITY,
        Status.SUBMITTED,
    )


def test_escalating_needs_a_reason(people, report):
    matter = report("repairs")
    before = row(matter)
    with pytest.raises(ServiceError) as refused:
        services.matter_escalate(matter=matter, handler=people.compound_leader, reason="  ")
    assert refused.value.field == "reason"
    assert row(matter) == before


def test_it_climbs_tier_by_tier_to_the_district(people, report):
    matter = report("repairs")
    for handler, tier in [
        (people.compound_leader, Tier.COMMUNITY),
        (people.community_worker, Tier.STREET),
        (people.street_officer, Tier.DISTRICT),
    ]:
        services.matter_escalate(matter=matter, handler=handler, reason="需要上级协调")
        assert Matter.objects.get(pk=matter.pk).tier == tier
    assert Matter.objects.get(pk=matter.pk).escalations_by_hand == 3


def district_matter(people, report) -> Matter:
    matter = report("building-safety")
    services.matter_escalate(matter=matter, handler=people.street_officer, reason="需要区住建局鉴定")
    services.matter_accept(matter=matter, handler=people.district_officer)
    matter.refresh_from_db()
    assert (matter.tier, matter.handling_region) == (Tier.DISTRICT, people.district)
    return matter


def test_the_district_cannot_escalate(people, report):
    matter = district_matter(people, report)
    before, event_count = row(matter), Event.objects.count()
    with pytest.raises(ServiceError):
        services.matter_escalate(matter=matter, handler=people.district_officer, reason="再上报")
    with pytest.raises(ServiceError):
        services.matter_return(matter=matter, handler=people.district_officer, reason="不归区里")
    assert row(matter) == before and Event.objects.count() == event_count


def test_returning_as_not_ours_goes_one_tier_up_with_the_reason(people, report):
    matter = report("parking")
    services.matter_return(matter=matter, handler=people.community_worker, reason="属于市政道路,归街道")
    matter.refresh_from_db()
    assert (matter.status, matter.tier, matter.handling_region) == (
        Status.SUBMITTED,
        Tier.STREET,
        people.street,
    )
    assert matter.escalations_by_hand == 0
    returned = Event.objects.get(matter=matter, kind=Kind.RETURNED)
    assert (returned.actor, returned.note) == (people.community_worker, "属于市政道路,归街道")


def test_returning_needs_a_reason(people, report):
    matter = report("parking")
    with pytest.raises(ServiceError):
        services.matter_return(matter=matter, handler=people.community_worker, reason="")
    assert Matter.objects.get(pk=matter.pk).tier == Tier.COMMUNITY


# Duplicates, withdrawal, me too -----------------------------------------------------------------------


def test_marking_a_duplicate_moves_its_followers_to_the_original(people, report, neighbour):
    third = make_user("13800000021", "王三")
    original = report("repairs")
    duplicate = report("repairs", by=neighbour, description="1栋灯不亮")
    services.matter_me_too(matter=duplicate, user=third)
    services.matter_mark_duplicate(matter=duplicate, handler=people.compound_leader, original=original)
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.duplicate_of) == (Status.DUPLICATE, original)
    assert set(Follower.objects.filter(matter=original).values_list("user", flat=True)) == {
        people.resident.pk,
        neighbour.pk,
        third.pk,
    }
    marked = Event.objects.get(matter=duplicate, kind=Kind.DUPLICATE)
    assert (marked.actor, marked.note) == (people.compound_leader, f"#{original.pk}")


def test_a_matter_cannot_be_a_duplicate_of_itself_or_of_a_withdrawn_one(people, report, neighbour):
    matter = report("repairs")
    withdrawn = report("repairs", by=neighbour)
    services.matter_withdraw(matter=withdrawn, user=neighbour)
    withdrawn.refresh_from_db()
    for original in (matter, withdrawn):
        with pytest.raises(ServiceError):
            services.matter_mark_duplicate(matter=matter, handler=people.compound_leader, original=original)
    assert Matter.objects.get(pk=matter.pk).status == Status.SUBMITTED


@pytest.mark.parametrize("who", ["compound_leader", "community_worker", "follower"])
def test_only_the_reporter_withdraws(people, report, neighbour, who):
    matter = report("repairs")
    services.matter_me_too(matter=matter, user=neighbour)
    user = neighbour if who == "follower" else getattr(people, who)
    before = row(matter)
    with pytest.raises(ServiceError):
        services.matter_withdraw(matter=matter, user=user)
    assert row(matter) == before


def test_the_reporter_withdraws_with_a_reason(people, report):
    matter = report("repairs")
    services.matter_withdraw(matter=matter, user=people.resident, reason="自己修好了")
    withdrawn = Event.objects.get(matter=matter, kind=Kind.WITHDRAWN)
    assert (withdrawn.actor, withdrawn.note, withdrawn.status) == (
        people.resident,
        "自己修好了",
        Status.WITHDRAWN,
    )


def test_me_too_adds_a_follower_and_counts_once(people, report, neighbour):
    matter = report("repairs")
    services.matter_me_too(matter=matter, user=neighbour)
    with pytest.raises(ServiceError):
        services.matter_me_too(matter=matter, user=neighbour)
    matter.refresh_from_db()
    assert matter.me_too_count == 1
    assert Follower.objects.get(matter=matter, user=neighbour).me_too is True
    assert events(matter) == [Kind.SUBMITTED, Kind.ME_TOO]


def test_the_reporter_cannot_say_me_too_to_their_own_matter(people, report):
    matter = report("repairs")
    with pytest.raises(ServiceError):
        services.matter_me_too(matter=matter, user=people.resident)
    assert Matter.objects.get(pk=matter.pk).me_too_count == 0


def test_me_too_is_refused_on_a_withdrawn_matter(people, report, neighbour):
    matter = report("repairs")
    services.matter_withdraw(matter=matter, user=people.resident)
    with pytest.raises(ServiceError):
        services.matter_me_too(matter=matter, user=neighbour)
    assert not Follower.objects.filter(user=neighbour).exists()


def test_a_follower_moved_from_a_duplicate_can_still_say_me_too_once(people, report, neighbour):
    original = report("repairs")
    duplicate = report("repairs", by=neighbour)
    services.matter_mark_duplicate(matter=duplicate, handler=people.compound_leader, original=original)
    services.matter_me_too(matter=original, user=neighbour)
    assert Matter.objects.get(pk=original.pk).me_too_count == 1
    assert Follower.objects.filter(matter=original, user=neighbour, me_too=True).count() == 1


# Calling in departments (吹哨报到) -----------------------------------------------------------------------


@pytest.fixture
def street_matter(people, report) -> Matter:
    matter = report("building-safety")
    services.matter_accept(matter=matter, handler=people.street_officer)
    return matter


def test_departments_are_called_in_only_at_street_or_district_tier(people, report):
    matter = report("repairs")
    services.matter_accept(matter=matter, handler=people.compound_leader)
    with pytest.raises(ServiceError):
        services.matter_call_in(matter=matter, officer=people.compound_leader, organisations=[people.agency])
    services.matter_escalate(matter=matter, handler=people.compound_leader, reason="需要社区")
    services.matter_accept(matter=matter, handler=people.community_worker)
    with pytest.raises(ServiceError):
        services.matter_call_in(matter=matter, officer=people.community_worker, organisations=[people.agency])
    assert not CoHandler.objects.exists()


def test_departments_are_called_in_only_once_accepted(people, report):
    matter = report("building-safety")
    with pytest.raises(ServiceError):
        services.matter_call_in(matter=matter, officer=people.street_officer, organisations=[people.agency])
    assert not CoHandler.objects.exists()


def test_the_district_can_call_departments_in(people, report):
    matter = district_matter(people, report)
    services.matter_call_in(matter=matter, officer=people.district_officer, organisations=[people.agency])
    assert CoHandler.objects.get(matter=matter).organisation == people.agency


def test_called_in_departments_must_accept_and_report_before_it_is_resolved(people, street_matter):
    officer = people.street_officer
    services.matter_call_in(
        matter=street_matter,
        officer=officer,
        organisations=[people.agency, people.work_unit],
        note="请协助排查",
    )
    agency = CoHandler.objects.get(matter=street_matter, organisation=people.agency)
    work_unit = CoHandler.objects.get(matter=street_matter, organisation=people.work_unit)
    assert (agency.state, work_unit.state, agency.called_by) == (
        CoHandler.State.CALLED,
        CoHandler.State.CALLED,
        officer,
    )

    with pytest.raises(ServiceError):
        services.matter_resolve(matter=street_matter, handler=officer, note="已处理")
    with pytest.raises(ServiceError):  # a report comes only after accepting
        services.co_handler_report(co_handler=agency, user=people.provider_staff, report="已排查")
    services.co_handler_accept(co_handler=agency, user=people.provider_staff)
    with pytest.raises(ServiceError):
        services.co_handler_accept(co_handler=agency, user=people.provider_staff)
    services.co_handler_report(co_handler=agency, user=people.provider_staff, report="已排查,墙体裂缝需加固")
    with pytest.raises(ServiceError):  # the work unit has not reported yet
        services.matter_resolve(matter=street_matter, handler=officer, note="已处理")
    assert Matter.objects.get(pk=street_matter.pk).status == Status.ACCEPTED

    services.co_handler_accept(co_handler=work_unit, user=people.work_unit_staff)
    services.co_handler_report(co_handler=work_unit, user=people.work_unit_staff, report="已出资加固")
    services.matter_resolve(matter=street_matter, handler=officer, note="加固完成")

    agency.refresh_from_db()
    assert (agency.state, agency.report) == (CoHandler.State.REPORTED, "已排查,墙体裂缝需加固")
    assert agency.accepted_at is not None and agency.reported_at is not None
    assert Matter.objects.get(pk=street_matter.pk).status == Status.RESOLVED
    assert list(Event.objects.filter(matter=street_matter).values_list("kind", "organisation")) == [
        (Kind.SUBMITTED, None),
        (Kind.ACCEPTED, None),
        (Kind.CALLED_IN, people.agency.pk),
        (Kind.CALLED_IN, people.work_unit.pk),
        (Kind.CO_ACCEPTED, people.agency.pk),
        (Kind.CO_REPORTED, people.agency.pk),
        (Kind.CO_ACCEPTED, people.work_unit.pk),
        (Kind.CO_REPORTED, people.work_unit.pk),
        (Kind.RESOLVED, None),
    ]


def test_only_staff_of_the_department_answer_for_it(people, street_matter):
    services.matter_call_in(
        matter=street_matter, officer=people.street_officer, organisations=[people.agency]
    )
    agency = CoHandler.objects.get(matter=street_matter)
    for user in (people.work_unit_staff, people.street_officer, people.resident):
        with pytest.raises(ServiceError):
            services.co_handler_accept(co_handler=agency, user=user)
    assert CoHandler.objects.get(pk=agency.pk).state == CoHandler.State.CALLED


def test_a_department_is_called_in_once(people, street_matter):
    officer = people.street_officer
    services.matter_call_in(matter=street_matter, officer=officer, organisations=[people.agency])
    with pytest.raises(ServiceError):
        services.matter_call_in(
            matter=street_matter, officer=officer, organisations=[people.work_unit, people.agency]
        )
    with pytest.raises(ServiceError):
        services.matter_call_in(matter=street_matter, officer=officer, organisations=[])
    assert list(CoHandler.objects.values_list("organisation", flat=True)) == [people.agency.pk]


def test_calling_in_tells_the_departments_staff(people, street_matter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.matter_call_in(
            matter=street_matter, officer=people.street_officer, organisations=[people.agency]
        )
    assert f"#{street_matter.pk}" in Notification.objects.get(user=people.provider_staff).title
    assert not Notification.objects.filter(user=people.work_unit_staff).exists()


# The timeline -----------------------------------------------------------------------------------------


def test_every_change_appends_one_event_with_its_actor_and_note(people, report):
    leader, worker = people.compound_leader, people.community_worker
    matter = report("repairs")
    services.matter_accept(matter=matter, handler=leader, note="马上来看")
    services.matter_escalate(matter=matter, handler=leader, reason="需要社区协调物业")
    services.matter_accept(matter=matter, handler=worker)
    services.matter_start(matter=matter, handler=worker, note="已联系物业")
    services.matter_resolve(matter=matter, handler=worker, note="已更换灯泡")
    services.matter_confirm(matter=matter, user=people.resident, resolved=True, rating=5, comment="谢谢")
    timeline = [
        (e.kind, e.actor, e.note, e.status, e.tier)
        for e in Event.objects.filter(matter=matter).select_related("actor").order_by("id")
    ]
    assert timeline == [
        (Kind.SUBMITTED, people.resident, "", Status.SUBMITTED, Tier.COMPOUND),
        (Kind.ACCEPTED, leader, "马上来看", Status.ACCEPTED, Tier.COMPOUND),
        (Kind.ESCALATED, leader, "需要社区协调物业", Status.SUBMITTED, Tier.COMMUNITY),
        (Kind.ACCEPTED, worker, "", Status.ACCEPTED, Tier.COMMUNITY),
        (Kind.STARTED, worker, "已联系物业", Status.IN_PROGRESS, Tier.COMMUNITY),
        (Kind.RESOLVED, worker, "已更换灯泡", Status.RESOLVED, Tier.COMMUNITY),
        (Kind.CONFIRMED, people.resident, "谢谢", Status.CLOSED, Tier.COMMUNITY),
    ]
    matter.refresh_from_db()
    assert (matter.entry_tier, matter.resolved_tier) == (Tier.COMPOUND, Tier.COMMUNITY)


def test_events_cannot_be_changed_in_the_database(report):
    event = Event.objects.get(matter=report("repairs"))
    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(note="改写历史")
    assert Event.objects.get(pk=event.pk).note == ""


def test_events_cannot_be_deleted_in_the_database(report):
    event = Event.objects.get(matter=report("repairs"))
    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.filter(pk=event.pk).delete()
    assert Event.objects.filter(pk=event.pk).exists()


# Who hears of what ------------------------------------------------------------------------------------


def test_the_compound_leader_hears_of_a_new_matter(people, categories, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        matter = services.matter_report(
            entered_by=people.resident,
            category=categories["repairs"],
            description="灯坏了",
            region=people.building,
        )
    notice = Notification.objects.get(user=people.compound_leader)
    assert f"#{matter.pk}" in notice.title
    assert notice.url == reverse("matters:detail", args=[matter.pk])
    assert not Notification.objects.filter(user=people.community_worker).exists()


def test_the_reporter_and_followers_hear_of_each_status_change(
    people, report, neighbour, django_capture_on_commit_callbacks
):
    matter = report("repairs")
    services.matter_me_too(matter=matter, user=neighbour)
    leader = people.compound_leader
    with django_capture_on_commit_callbacks(execute=True):
        services.matter_accept(matter=matter, handler=leader)
        services.matter_start(matter=matter, handler=leader)
        services.matter_resolve(matter=matter, handler=leader, note="已更换灯泡")
    url = reverse("matters:detail", args=[matter.pk])
    for user in (people.resident, neighbour):
        notices = Notification.objects.filter(user=user)
        assert [n.url for n in notices] == [url] * 3
        assert all(f"#{matter.pk}" in n.title for n in notices)
    assert not Notification.objects.filter(user=leader).exists()


def test_an_escalation_tells_the_reporter_and_the_handlers_of_the_new_tier(
    people, report, django_capture_on_commit_callbacks
):
    matter = report("repairs")
    with django_capture_on_commit_callbacks(execute=True):
        services.matter_escalate(matter=matter, handler=people.compound_leader, reason="需要社区协调")
    told = set(Notification.objects.values_list("user", flat=True))
    assert told == {people.resident.pk, people.community_worker.pk, people.community_secretary.pk}
    assert Notification.objects.filter(user=people.community_worker).count() == 1


def test_a_reopened_matter_is_brought_back_to_its_handlers(
    people, resolved, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.matter_confirm(matter=resolved, user=people.resident, resolved=False)
    assert Notification.objects.filter(user=people.compound_leader).count() == 1
    assert Notification.objects.filter(user=people.resident).count() == 1


def test_status_changes_are_also_sent_by_sms(
    people, report, neighbour, caplog, django_capture_on_commit_callbacks
):
    neighbour.set_mobile("13800000020")
    matter = report("repairs")
    services.matter_me_too(matter=matter, user=neighbour)
    with (
        caplog.at_level(logging.INFO, logger="gongzhi.sms"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.matter_accept(matter=matter, handler=people.compound_leader)
    sent = [r.getMessage() for r in caplog.records if r.name == "gongzhi.sms"]
    assert len(sent) == 2
    assert any(m.startswith("SMS to 13800000001: ") and f"#{matter.pk}" in m for m in sent)
    assert any(m.startswith("SMS to 13800000020: ") for m in sent)


def test_followers_hear_that_the_reporter_withdrew(
    people, report, neighbour, django_capture_on_commit_callbacks
):
    matter = report("repairs")
    services.matter_me_too(matter=matter, user=neighbour)
    with django_capture_on_commit_callbacks(execute=True):
        services.matter_withdraw(matter=matter, user=people.resident, reason="物业已修好")
    assert f"#{matter.pk}" in Notification.objects.get(user=neighbour).title


def test_a_refused_transition_tells_nobody(people, report, django_capture_on_commit_callbacks):
    matter = report("repairs")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ServiceError):
        services.matter_start(matter=matter, handler=people.compound_leader)
    assert callbacks == []
    assert not Notification.objects.exists()


def test_the_deadlines_helper_counts_working_days_for_working_day_units():
    start = at(2026, 9, 30, 10)
    assert services.deadline_after(start, 7, DeadlineUnit.WORKING_DAYS) == add_working_days(start, 7)
    assert services.deadline_after(start, 7, DeadlineUnit.HOURS) == at(2026, 9, 30, 17)


def test_a_matter_cannot_be_a_duplicate_of_one_in_another_community(people, report):
    matter = report("repairs")
    elsewhere = report("repairs", by=people.admin, region=people.other_building)
    with pytest.raises(ServiceError, match="same community"):
        services.matter_mark_duplicate(matter=matter, handler=people.compound_leader, original=elsewhere)
    assert Matter.objects.get(pk=matter.pk).status == Status.SUBMITTED


def test_a_department_cannot_answer_once_the_matter_is_withdrawn(people, street_matter):
    services.matter_call_in(
        matter=street_matter, officer=people.street_officer, organisations=[people.agency]
    )
    services.matter_withdraw(matter=street_matter, user=people.resident)
    call = CoHandler.objects.get(matter=street_matter)
    with pytest.raises(ServiceError, match="no longer being handled"):
        services.co_handler_accept(co_handler=call, user=people.provider_staff)
    assert CoHandler.objects.get(pk=call.pk).state == CoHandler.State.CALLED


def test_a_reopened_matter_gets_its_tier_time_afresh(people, report):
    matter = report("repairs", now=at(2026, 11, 2, 9))
    services.matter_accept(matter=matter, handler=people.compound_leader, now=at(2026, 11, 2, 10))
    services.matter_resolve(
        matter=matter, handler=people.compound_leader, note="修好了", now=at(2026, 11, 12, 9)
    )
    services.matter_confirm(matter=matter, user=people.resident, resolved=False, now=at(2026, 11, 13, 9))
    matter.refresh_from_db()
    assert matter.tier_due == add_working_days(at(2026, 11, 13, 9), 7)
    assert services.matters_escalate_overdue(now=at(2026, 11, 14, 9)) == 0
