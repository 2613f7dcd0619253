"""Demo sharing, after the practices the issue names: in 清波社区 the bank (the work unit) opens its
canteen at lunch, its car park at night and its gym, as Haidian's work units do in their "community homes"
(社区之家), and the community opens its meeting hall and activity room; in 金鱼街社区 (金牛区) an innovation
centre run by a social organisation offers 40 co-working desks and 50 hot seats; in 吉福社区 residents share
their parking spaces by the day (smart parking).

Two months of history are written directly: the services refuse a time that has passed, so past bookings
cannot be made through them. They are drawn from a seeded generator and keep every rule a booking made
through the services would (opening hours, places, no overlap of an exclusive resource with its buffer), and
the resources are backdated to their listing so that the contribution report counts their opening hours.
Bookings still to come are made through the services, as their owners and residents would.
"""

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from gongzhi.core.demo import DemoDistrict, fake_credit_code
from gongzhi.core.models import Organisation, OrganisationKind, Resident, User
from gongzhi.core.services import organisation_create
from gongzhi.sharing import rules, services
from gongzhi.sharing.models import Booking, PriceKind, Resource, Status

DEMO_SEED = 2026
HISTORY_DAYS = 60
LISTED_DAYS_AGO = 75
WEEKDAYS = (0, 1, 2, 3, 4)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
JINNIU_AREA_CODE = "510106"


@dataclass(frozen=True)
class Use:
    """How a resource was used in the past: on these weekdays, in each of these slots, between `per_slot`
    bookings of `places` places each (an exclusive resource: at most one, with the chance `chance`), booked by
    its regulars (`regulars` residents of the resource's community) or by organisations."""

    days: tuple[int, ...]
    slots: tuple[tuple[str, str], ...]
    per_slot: tuple[int, int] = (1, 1)
    places: tuple[int, int] = (1, 1)
    chance: float = 1.0
    regulars: int = 40
    by_organisations: bool = False


def _hours(days: tuple[int, ...], opens: str, closes: str) -> list[rules.Hours]:
    return [
        rules.Hours(day, datetime.time.fromisoformat(opens), datetime.time.fromisoformat(closes))
        for day in days
    ]


def _time(text: str) -> datetime.time:
    return datetime.time.fromisoformat(text)


@transaction.atomic
def demo_sharing_create(built: DemoDistrict, *, seed: int = DEMO_SEED) -> int:
    """Returns how many resources were listed."""
    rng = random.Random(seed)
    qingbo, jifu, jinyu = built.places["qingbo"], built.places["community.1"], built.places["community.2"]
    admin, worker = built.users["admin"], built.users["community_worker"]
    bank, bank_staff = built.organisations["bank"], built.users["work_unit_staff"]
    centre = organisation_create(
        created_by=admin,
        name="成都市金牛区抚琴社区发展创新中心",
        kind=OrganisationKind.SOCIAL_ORGANISATION,
        region=jinyu,
        credit_code=fake_credit_code(rng, OrganisationKind.SOCIAL_ORGANISATION, JINNIU_AREA_CODE),
        address="金牛区金鱼街18号",
    )
    built.organisations["innovation_centre"] = centre
    organisations = [built.organisations[key] for key in ("agency", "enterprise", "committee.2", "property")]

    def listed(owner_staff: User, hours: list[rules.Hours], **fields) -> Resource:
        audiences = {
            "audience_regions": fields.pop("audience_regions", None),
            "audience_organisations": fields.pop("audience_organisations", None),
        }
        return services.resource_save(
            resource=Resource(region=fields.pop("region", qingbo), **fields),
            by=owner_staff,
            hours=hours,
            **audiences,
        )

    canteen = listed(
        bank_staff, _hours(WEEKDAYS, "11:30", "13:00"), organisation=bank, kind=Resource.Kind.CANTEEN,
        name="蜀都银行职工食堂", address="苏坡东路88号蜀都银行一楼", capacity=40, slot_minutes=30,
        min_minutes=30, max_minutes=90, price_kind=PriceKind.CASH, price_amount=Decimal(12),
        book_ahead_days=7,
        description="午餐向社区居民开放，两荤两素一汤，现场付费。",
        rules="请按预约时段就餐，餐后自行归还餐盘。",
    )  # fmt: skip
    car_park = listed(
        bank_staff, _hours(EVERY_DAY, "19:00", "08:00"), organisation=bank, kind=Resource.Kind.PARKING,
        name="蜀都银行停车场（夜间共享）", address="苏坡东路88号地下停车场", capacity=20, slot_minutes=60,
        min_minutes=60, max_minutes=13 * 60, needs_plate=True, hours_per_week=91,
        description="下班后向居民开放夜间停车，次日8:00前驶离。",
        rules="须登记车牌；8:00前驶离，逾期将影响下次预约。",
    )  # fmt: skip
    gym = listed(
        bank_staff, [*_hours(WEEKDAYS, "18:00", "21:00"), *_hours((5, 6), "09:00", "17:00")],
        organisation=bank, kind=Resource.Kind.GYM, name="蜀都银行职工健身房", address="苏坡东路88号三楼",
        capacity=15, slot_minutes=60, min_minutes=60, max_minutes=120, hours_per_week=6,
        rules="请穿运动鞋入场，器械使用后归位。",
    )  # fmt: skip
    hall = listed(
        worker, _hours(EVERY_DAY, "08:00", "21:00"), kind=Resource.Kind.HALL, name="清波社区议事厅",
        address="清波社区党群服务中心二楼", capacity=1, slot_minutes=30, min_minutes=60, max_minutes=240,
        buffer_minutes=30, needs_approval=True, bookings_at_once=2, audience_regions=[qingbo],
        audience_organisations=organisations,
        description="可容纳40人，配投影和扩音设备，供居民议事和社会组织活动使用。",
    )  # fmt: skip
    activity_room = listed(
        worker, _hours(EVERY_DAY, "09:00", "21:00"), kind=Resource.Kind.ACTIVITY_ROOM, name="清波社区活动室",
        address="清波社区党群服务中心一楼", capacity=1, slot_minutes=30, min_minutes=60, max_minutes=180,
        buffer_minutes=15, bookings_at_once=2, rules="活动结束后请恢复桌椅摆放。",
    )  # fmt: skip
    desks = listed(
        admin, _hours(WEEKDAYS, "09:00", "18:00"), organisation=centre, region=jinyu, kind=Resource.Kind.DESK,
        name="社区创新中心共享工位", address="金牛区金鱼街18号二楼", capacity=40, slot_minutes=60,
        min_minutes=60, max_minutes=9 * 60, book_ahead_days=14, audience_organisations=organisations,
        description="为社区社会组织提供办公工位，含网络和打印。",
    )  # fmt: skip
    hot_seats = listed(
        admin, _hours(EVERY_DAY, "09:00", "21:00"), organisation=centre, region=jinyu,
        kind=Resource.Kind.HOT_SEAT, name="社区创新中心热座", address="金牛区金鱼街18号一楼", capacity=50,
        slot_minutes=60, min_minutes=60, max_minutes=240, audience_regions=[jinyu],
        audience_organisations=organisations, description="居民和社会组织随到随用的开放座位。",
    )  # fmt: skip
    spaces = [
        listed(
            admin,
            _hours(WEEKDAYS, "08:30", "18:00"),
            region=built.places["compound.1"],
            kind=Resource.Kind.PARKING,
            name=f"吉福苑共享车位A{number:02d}",
            address=f"吉福苑地面停车场A{number:02d}",
            capacity=1,
            slot_minutes=30,
            min_minutes=60,
            max_minutes=10 * 60,
            needs_plate=True,
            bookings_at_once=3,
            description="业主白天上班时共享的私家车位，18:00前驶离。",
        )  # fmt: skip
        for number in range(1, 7)
    ]

    # The canteen was closed for the bank's own event a fortnight ago, and will be on the next holiday.
    today = timezone.localdate()
    for day, reason in (
        (today - datetime.timedelta(days=14), "单位内部活动，暂停开放"),
        (today + datetime.timedelta(days=10), "节假日"),
    ):
        services.blackout_add(resource=canteen, by=bank_staff, first_day=day, last_day=day, reason=reason)
    resources = [canteen, car_park, gym, hall, activity_room, desks, hot_seats, *spaces]
    listing = rules.at(today - datetime.timedelta(days=LISTED_DAYS_AGO), datetime.time())
    Resource.objects.filter(pk__in=[resource.pk for resource in resources]).update(created_at=listing)

    pools = {
        community.pk: list(
            Resident.objects.filter(community=community).select_related("user").order_by("pk")[:120]
        )
        for community in (qingbo, jifu, jinyu)
    }
    desk_staff = {qingbo.pk: worker, jifu.pk: admin, jinyu.pk: admin}
    morning, afternoon, evening = ("09:00", "11:00"), ("14:00", "16:00"), ("19:00", "21:00")
    uses = {
        canteen.pk: Use(WEEKDAYS, (("11:30", "12:00"), ("12:00", "12:30"), ("12:30", "13:00")), (4, 9),
                        (1, 3), regulars=90),
        car_park.pk: Use(EVERY_DAY, (("19:00", "07:00"), ("20:00", "08:00")), (4, 8), regulars=26),
        gym.pk: Use(WEEKDAYS, (("18:00", "19:00"), ("19:00", "20:00"), ("20:00", "21:00")), (2, 5)),
        hall.pk: Use(EVERY_DAY, (morning, afternoon, evening), chance=0.3, regulars=12,
                     by_organisations=True),
        activity_room.pk: Use(EVERY_DAY, (morning, ("14:00", "16:30"), evening), chance=0.5, regulars=25),
        desks.pk: Use(WEEKDAYS, (("09:00", "18:00"),), (3, 4), (2, 6), by_organisations=True),
        hot_seats.pk: Use(EVERY_DAY, (("09:00", "12:00"), afternoon, evening), (2, 6), (1, 2), regulars=70),
        **{space.pk: Use(WEEKDAYS, (("08:30", "18:00"),), chance=0.6, regulars=5) for space in spaces},
    }  # fmt: skip
    history = []
    for resource in resources:
        closed = {
            first_day + datetime.timedelta(days=offset)
            for first_day, last_day in resource.blackouts.values_list("first_day", "last_day")
            for offset in range((last_day - first_day).days + 1)
        }
        staff = bank_staff if resource.organisation_id == bank.pk else desk_staff[resource.community_id]
        history += _history(
            resource,
            uses[resource.pk],
            rng,
            today,
            closed,
            pools[resource.community_id],
            organisations,
            staff,
        )
    Booking.objects.bulk_create(history, batch_size=1000)
    _upcoming(built, today, canteen, car_park, gym, hall, activity_room, desks)
    return len(resources)


def _history(
    resource: Resource,
    use: Use,
    rng: random.Random,
    today: datetime.date,
    closed: set[datetime.date],
    residents: list[Resident],
    organisations: list[Organisation],
    staff: User,
) -> list[Booking]:
    """The past two months of a resource's bookings: most used, a few not turned up to, a few cancelled; a
    request to a resource needing approval was sometimes declined."""
    regulars = rng.sample(residents, min(use.regulars, len(residents)))
    bookings = []
    for days_ago in range(HISTORY_DAYS, 0, -1):
        day = today - datetime.timedelta(days=days_ago)
        if day.weekday() not in use.days or day in closed:
            continue
        for opens, closes in use.slots:
            start = rules.at(day, _time(opens))
            end = rules.at(day + rules.DAY if closes <= opens else day, _time(closes))
            count = rng.randint(*use.per_slot) if rng.random() < use.chance else 0
            for _booking in range(count):
                bookings.append(_past_booking(resource, use, rng, start, end, regulars, organisations, staff))
    return bookings


def _past_booking(resource, use, rng, start, end, residents, organisations, staff) -> Booking:
    roll = rng.random()
    if resource.needs_approval and roll > 0.95:
        status = Status.DECLINED
    elif roll > 0.92:
        status = Status.CANCELLED
    elif roll > 0.86:
        status = Status.NO_SHOW
    else:
        status = Status.CHECKED_IN
    places = 1 if resource.is_exclusive else rng.randint(*use.places)
    organisation = rng.choice(organisations) if use.by_organisations and rng.random() < 0.8 else None
    resident = None if organisation is not None else rng.choice(residents)
    # A resident without the app books at the owner's desk; an organisation's booking is made by the desk too,
    # the demo having no staff account for most organisations.
    booked_by = resident.user if resident is not None and resident.user_id else staff
    price = resource.price_amount * places if resource.price_kind == PriceKind.CASH else Decimal(0)
    booking = Booking(
        resource=resource,
        booked_by=booked_by,
        resident=resident,
        organisation=organisation,
        starts_at=start,
        ends_at=end,
        blocked_until=end + datetime.timedelta(minutes=resource.buffer_minutes),
        release_at=start + datetime.timedelta(minutes=resource.release_after_minutes),
        exclusive=resource.is_exclusive,
        party_size=places,
        plate=_plate(rng) if resource.needs_plate else "",
        status=status,
        price_kind=resource.price_kind,
        price_due=price,
        request_key=f"demo:{resource.pk}:{start:%Y%m%d%H%M}:{rng.randrange(10**9)}",
        created_at=start - datetime.timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 12)),
    )
    if resource.needs_approval and status != Status.CANCELLED:
        booking.decided_by, booking.decided_at = staff, booking.created_at + datetime.timedelta(hours=3)
        booking.reason = "时段已安排社区活动" if status == Status.DECLINED else ""
    if status == Status.CHECKED_IN:
        booking.checked_in_at = start + datetime.timedelta(minutes=rng.randint(-10, 10))
        booking.checked_in_by = booked_by
    elif status == Status.CANCELLED:
        booking.cancelled_at, booking.cancelled_by = start - datetime.timedelta(hours=6), booked_by
    return booking


def _plate(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return f"川A{''.join(rng.choice(letters + '0123456789') for _ in range(4))}{rng.randrange(10)}"


def _next_weekday(day: datetime.date) -> datetime.date:
    while day.weekday() not in WEEKDAYS:
        day += rules.DAY
    return day


def _upcoming(built: DemoDistrict, today, canteen, car_park, gym, hall, activity_room, desks) -> None:
    """Bookings still to come, through the services: 周建平's lunch and a night's parking, neighbours' gym
    and activity room, the agency's desks and a hall request the community approved, and one waiting."""
    resident, leader = built.users["resident"], built.users["building_leader"]
    compound_leader, agency_staff = built.users["compound_leader"], built.users["provider_staff"]
    agency, worker = built.organisations["agency"], built.users["community_worker"]
    tomorrow = today + rules.DAY
    weekday = _next_weekday(tomorrow)

    def book(resource, by, day, opens, closes, **fields) -> Booking:
        start = rules.at(day, _time(opens))
        end = rules.at(day + rules.DAY if closes <= opens else day, _time(closes))
        return services.booking_create(
            resource=resource, by=by, starts_at=start, ends_at=end,
            request_token=f"demo-{resource.pk}-{by.pk}-{day:%Y%m%d}-{opens}", **fields,
        )  # fmt: skip

    book(canteen, resident, weekday, "12:00", "12:30", party_size=2)
    book(car_park, resident, tomorrow, "19:00", "07:00", plate="川A·D12345")
    book(gym, leader, weekday, "19:00", "20:00")
    book(activity_room, compound_leader, today + 2 * rules.DAY, "09:00", "11:00", note="老年合唱队排练")
    book(desks, agency_staff, weekday, "09:00", "18:00", party_size=3, organisation=agency)
    approved = book(
        hall,
        agency_staff,
        today + 3 * rules.DAY,
        "14:00",
        "16:00",
        organisation=agency,
        note="社工站议事培训",
    )
    services.booking_decide(booking=approved, by=worker, approve=True)
    book(hall, resident, today + 5 * rules.DAY, "19:00", "20:30", note="1栋楼道照明改造议事会")
