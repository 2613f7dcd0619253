"""Builds the sharing benchmark's database: 5,000 resources and 2,000,000 bookings by default.

    .venv/bin/python bench/sharing_generate.py                                   # the full size
    .venv/bin/python bench/sharing_generate.py --resources 500 --bookings 100000   # a quick run

It (re)creates its own database (default gongzhi_bench_sharing, BENCH_SHARING_DATABASE_URL; the name must
contain "bench", since it is dropped first), migrates it with `manage.py migrate`, and fills it:

- regions: a city, 4 districts, 5 streets each, 10 communities per street (200 for 5,000 resources) and two
  buildings per community, through `region_create`; a work unit in every community and a social enterprise
  in every street; a community worker for every community (the first community's is
  benchenv.WORKER_MOBILE);
- residents, each with an account (no usable password but the first one's, benchenv.RESIDENT_MOBILE, who
  signs in with benchenv.PASSWORD as the worker does): `--residents` per community who book, and
  `--idle` per community who have booked nothing (the first community has `--clients`, 250, of them): the
  benchmark books as these, so no history of theirs meets a quota;
- 25 resources per community in a fixed mix (see `PROFILES`): 2 canteens and 3 car parks of the work unit
  (pooled, cash, the car parks overnight 19:00-08:00 with plates), 2 meeting halls (exclusive, approval,
  30 minutes' buffer), 2 gyms, 6 activity rooms, 2 other rooms of the community, 4 co-working desks (pooled)
  and 4 hot seats (exclusive) of the street's social enterprise, open to the whole street; capacities,
  prices and opening days vary; one resource in twenty has a blackout of one to three days;
- bookings: `--days-back` days (60) of history and the resources' booking horizons (7-30 days) ahead, as
  the services would have written them. Each resource has a rate of bookings per open day by its kind,
  scaled so that the total is exactly `--bookings`, lower further ahead. On an exclusive resource a day's
  bookings are laid end to end with random gaps and the resource's buffer (so they never overlap); on a
  pooled one each booking takes a start, a length and a party size that fit the places left in every slot
  it covers. Past bookings were checked in (most), cancelled, declined (approval), or released as no-shows;
  future ones are confirmed, pending approval or cancelled; cash prices as the services compute them, car
  plates for the car parks, reminders, decisions and check-ins with their times. Points-priced resources
  are not generated (their bookings would need ledger transactions); quotas are not replayed.

How: resources, hours, users and residents through the ORM (`bulk_create`); bookings with COPY from one
process per core, each taking whole resources. The exclusion constraint `booking_no_overlap` stays on during
the load, so PostgreSQL itself checks every active exclusive booking as it is copied in: none overlaps
another, buffer included. The table's other indexes, its unique key and its foreign keys are dropped during
the load and rebuilt afterwards from their own definitions (as bench/generate.py does for the roster; the
rebuilt unique key checks every request key, the foreign keys every reference), and the table's
constraints and indexes are then compared with those it had just after migrating. VACUUM ANALYZE runs, a
query checks that no pooled resource ever holds more places than it has (a running sum of places over the
moments bookings start and end), and 2,000 random bookings are re-checked with the services' own time rules
(`rules.check_times`) as of when they were made. Figures go to bench/out/sharing-generate.json.
"""

import argparse
import bisect
import datetime
import functools
import itertools
import json
import math
import multiprocessing
import os
import random
import time
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from urllib.parse import urlsplit

import benchenv
import psycopg
from generate import copy_rows, migrate, reattach_indexes, recreate_database

DATABASE_URL = os.environ.get(
    "BENCH_SHARING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gongzhi_bench_sharing"
)
RESOURCES_PER_COMMUNITY = 25
COMMUNITIES_PER_STREET = 10
STREETS_PER_DISTRICT = 5
CHUNK = 100_000  # bookings per COPY and commit
RECHECKED = 2_000  # bookings re-checked afterwards with the services' time rules
PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
WEEKDAYS, EVERY_DAY = range(5), range(7)


@dataclass(frozen=True)
class Profile:
    """A kind of resource as the generator lists it: how many a community has, its rules, how it is used."""

    kind: str
    per_community: int
    name: str
    capacity: tuple[int, int]  # 1 = exclusive
    periods: tuple[tuple[str, str], ...]
    days: range
    slot: int
    min_minutes: int
    max_minutes: int
    lengths: tuple[tuple[int, float], ...]  # booking lengths in minutes, with weights
    per_day: float  # bookings per open day, per place for pooled resources (before scaling to the total)
    owner: str  # "unit", "enterprise" (open to the street) or "community"
    buffer: int = 0
    approval: bool = False
    book_ahead: int = 14
    price: tuple[str, str, int] = ("free", "booking", 0)
    parties: tuple[tuple[int, float], ...] = ((1, 1.0),)
    plate: bool = False
    hours_per_week: int | None = None
    bookings_at_once: int | None = None


# fmt: off
PROFILES = (
    Profile(
        "canteen", 2, "职工食堂", (40, 160), (("11:30", "13:00"), ("17:30", "19:00")), WEEKDAYS, 30, 30, 90,
        ((30, 0.6), (60, 0.35), (90, 0.05)), 0.35, "unit", book_ahead=7, price=("cash", "booking", 12),
        parties=((1, 0.7), (2, 0.2), (3, 0.07), (4, 0.03)),
    ),
    Profile(
        "parking", 3, "停车场", (10, 60), (("19:00", "08:00"),), EVERY_DAY, 60, 60, 780,
        ((780, 0.45), (180, 0.2), (240, 0.2), (360, 0.15)), 0.45, "unit", book_ahead=7,
        price=("cash", "booking", 5), plate=True, hours_per_week=60,
    ),
    Profile(
        "hall", 2, "议事厅", (1, 1), (("08:00", "21:00"),), EVERY_DAY, 30, 60, 240,
        ((60, 0.3), (90, 0.2), (120, 0.3), (180, 0.15), (240, 0.05)), 2.5, "community", buffer=30,
        approval=True, book_ahead=30, bookings_at_once=2,
    ),
    Profile(
        "gym", 2, "健身房", (10, 30), (("06:00", "22:00"),), EVERY_DAY, 60, 60, 120,
        ((60, 0.75), (120, 0.25)), 1.0, "community", book_ahead=7,
    ),
    Profile(
        "activity_room", 6, "活动室", (1, 1), (("09:00", "21:00"),), EVERY_DAY, 30, 60, 240,
        ((60, 0.35), (90, 0.2), (120, 0.3), (180, 0.15)), 3.0, "community", buffer=15,
    ),
    Profile(
        "other", 2, "共享工坊", (1, 1), (("09:00", "17:00"),), EVERY_DAY, 60, 60, 180,
        ((60, 0.5), (120, 0.4), (180, 0.1)), 2.0, "community",
    ),
    Profile(
        "desk", 4, "共享工位", (4, 20), (("09:00", "18:00"),), WEEKDAYS, 60, 60, 540,
        ((540, 0.35), (240, 0.35), (120, 0.3)), 0.6, "enterprise", price=("cash", "booking", 10),
    ),
    Profile(
        "hot_seat", 4, "热座", (1, 1), (("09:00", "18:00"),), WEEKDAYS, 30, 30, 240,
        ((60, 0.3), (120, 0.4), (240, 0.3)), 3.0, "enterprise", price=("cash", "hour", 4),
    ),
)
# fmt: on
assert sum(profile.per_community for profile in PROFILES) == RESOURCES_PER_COMMUNITY


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=5_000, help="a multiple of 25 (one community each)")
    parser.add_argument("--bookings", type=int, default=2_000_000)
    parser.add_argument("--residents", type=int, default=250, help="residents who book, per community")
    parser.add_argument("--idle", type=int, default=8, help="residents with no bookings, per community")
    parser.add_argument(
        "--clients", type=int, default=250, help="residents with no bookings, first community"
    )
    parser.add_argument("--days-back", type=int, default=60, help="days of history")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    if args.resources < RESOURCES_PER_COMMUNITY or args.resources % RESOURCES_PER_COMMUNITY:
        parser.error(f"--resources must be a multiple of {RESOURCES_PER_COMMUNITY}")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the benchmark database's name must contain 'bench'")
    return args


@functools.cache
def _cumulative(choices: tuple[tuple[int, float], ...]) -> tuple[list[int], list[float]]:
    return [value for value, _w in choices], list(itertools.accumulate(w for _value, w in choices))


def weighted(rng: random.Random, choices: tuple[tuple[int, float], ...]) -> int:
    values, cumulative = _cumulative(choices)
    return values[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def minutes(text: str) -> int:
    hours, mins = text.split(":")
    return int(hours) * 60 + int(mins)


# ---------------------------------------------------------------------------------------------------------
# Regions, people, resources: through the ORM


def build_city(args, rng: random.Random) -> dict:
    """Regions, organisations, staff, residents with accounts. Returns what the bookings need."""
    from django.contrib.auth.hashers import make_password

    from gongzhi.core.demo import fake_name
    from gongzhi.core.models import Organisation, RegionLevel, Resident, RoleAssignment, User
    from gongzhi.core.roles import Role
    from gongzhi.core.services import region_create

    communities_count = args.resources // RESOURCES_PER_COMMUNITY
    streets_count = math.ceil(communities_count / COMMUNITIES_PER_STREET)
    city = region_create(parent=None, name="共享市", level=RegionLevel.CITY)
    districts = [
        region_create(parent=city, name=f"第{d + 1}区", level=RegionLevel.DISTRICT)
        for d in range(math.ceil(streets_count / STREETS_PER_DISTRICT))
    ]
    streets = [
        region_create(
            parent=districts[s // STREETS_PER_DISTRICT], name=f"第{s + 1}街道", level=RegionLevel.STREET
        )
        for s in range(streets_count)
    ]
    communities, buildings = [], {}
    for c in range(communities_count):
        community = region_create(
            parent=streets[c // COMMUNITIES_PER_STREET], name=f"第{c + 1}社区", level=RegionLevel.COMMUNITY
        )
        communities.append(community)
        buildings[community.pk] = [
            region_create(parent=community, name=f"{b + 1}栋", level=RegionLevel.BUILDING) for b in range(2)
        ]
    units = Organisation.objects.bulk_create(
        Organisation(name=f"{community.name}共建单位", kind="work_unit", region=community)
        for community in communities
    )
    enterprises = Organisation.objects.bulk_create(
        Organisation(name=f"{street.name}众创空间", kind="social_enterprise", region=street)
        for street in streets
    )

    unusable, usable = make_password(None), make_password(benchenv.PASSWORD)
    users, residents, workers = [], [], []
    people: dict[int, dict[str, list]] = {}
    number = 0
    for c, community in enumerate(communities):
        worker = User(name=f"{community.name}工作者", password=usable if c == 0 else unusable)
        worker.set_mobile(benchenv.WORKER_MOBILE if c == 0 else f"139{c + 10:08d}")
        workers.append(worker)
        idle = args.clients if c == 0 else args.idle
        people[community.pk] = {"booking": [], "idle": []}
        for k in range(args.residents + idle):
            number += 1
            sex = rng.choice("MF")
            # The first community's first resident signs in for bench/load.py (--user resident).
            first = number == 1
            user = User(
                name=fake_name(rng, sex, rng.randint(1945, 2005)), password=usable if first else unusable
            )
            user.set_mobile(benchenv.RESIDENT_MOBILE if first else f"17{number:09d}")
            users.append(user)
            residents.append(
                Resident(
                    community=community,
                    region=buildings[community.pk][k % 2],
                    name=user.name,
                    sex=sex,
                )
            )
            people[community.pk]["booking" if k < args.residents else "idle"].append(len(users) - 1)
    User.objects.bulk_create(workers, batch_size=5000)
    RoleAssignment.objects.bulk_create(
        RoleAssignment(user=worker, role=Role.COMMUNITY_WORKER, region=community)
        for worker, community in zip(workers, communities, strict=True)
    )
    users = User.objects.bulk_create(users, batch_size=5000)
    for resident, user in zip(residents, users, strict=True):
        resident.user = user
    residents = Resident.objects.bulk_create(residents, batch_size=5000)
    pairs = [(user.pk, resident.pk) for user, resident in zip(users, residents, strict=True)]
    for groups in people.values():
        for group in ("booking", "idle"):
            groups[group] = [pairs[index] for index in groups[group]]
    return {
        "city": city,
        "streets": streets,
        "communities": communities,
        "units": {unit.region_id: unit for unit in units},
        "enterprises": {enterprise.region_id: enterprise for enterprise in enterprises},
        "workers": {community.pk: worker.pk for community, worker in zip(communities, workers, strict=True)},
        "people": people,
    }


@dataclass
class Plan:
    """One resource and what the bookings need of it."""

    resource_id: int
    profile: Profile
    capacity: int
    community_id: int
    days: list[int]  # weekdays it opens
    blackout: set[datetime.date]
    rate: float  # bookings per open day, before scaling
    price_amount: Decimal
    release_after: int
    book_ahead: int
    counts: dict[datetime.date, int] = field(default_factory=dict)
    limit: int = 0  # bookings a day can take (day_limit)


def build_resources(args, rng: random.Random, city: dict, now: datetime.datetime) -> list[Plan]:
    from django.utils import timezone

    from gongzhi.sharing.models import Blackout, OpeningHours, Resource

    today = timezone.localdate(now)
    resources, plans, audiences = [], [], []
    created = now - datetime.timedelta(days=args.days_back + 30)
    for community in city["communities"]:
        street_id = community.parent_id
        number = 0
        for profile in PROFILES:
            for k in range(profile.per_community):
                number += 1
                capacity = rng.randint(*profile.capacity)
                if community == city["communities"][0] and profile.kind == "gym":
                    capacity = 30  # the race's pooled places (bench/sharing_bench.py)
                days = list(profile.days)
                if profile.kind == "canteen" and rng.random() < 0.5:
                    days = list(EVERY_DAY)
                owner = {
                    "unit": city["units"][community.pk],
                    "enterprise": city["enterprises"][street_id],
                    "community": None,
                }[profile.owner]
                kind, unit, amount = profile.price
                amount = (
                    Decimal(rng.choice((amount, amount, amount // 2 or 1, amount * 2)))
                    if amount
                    else Decimal(0)
                )
                resource = Resource(
                    community=community,
                    region=community,
                    organisation=owner,
                    kind=profile.kind,
                    name=f"{community.name}{profile.name}{k + 1}",
                    address=f"{community.name}{number}号",
                    capacity=capacity,
                    slot_minutes=profile.slot,
                    min_minutes=profile.min_minutes,
                    max_minutes=profile.max_minutes,
                    book_ahead_days=profile.book_ahead,
                    buffer_minutes=profile.buffer,
                    needs_approval=profile.approval,
                    hours_per_week=profile.hours_per_week,
                    bookings_at_once=profile.bookings_at_once,
                    price_kind=kind,
                    price_per=unit,
                    price_amount=amount,
                    needs_plate=profile.plate,
                    created_by_id=city["workers"][community.pk],
                    created_at=created,
                )
                resources.append(resource)
                blackout = set()
                if rng.random() < 0.05:
                    first = today + datetime.timedelta(days=rng.randint(-args.days_back, profile.book_ahead))
                    blackout = {first + datetime.timedelta(days=d) for d in range(rng.randint(1, 3))}
                plans.append(
                    Plan(
                        resource_id=0,
                        profile=profile,
                        capacity=capacity,
                        community_id=community.pk,
                        days=days,
                        blackout=blackout,
                        rate=profile.per_day
                        * (capacity if capacity > 1 else 1)
                        * rng.lognormvariate(0, 0.35),
                        price_amount=amount,
                        release_after=15,
                        book_ahead=profile.book_ahead,
                    )
                )
                audiences.append(street_id if profile.owner == "enterprise" else None)
    resources = Resource.objects.bulk_create(resources, batch_size=2000)
    hours, blackouts, opened_to = [], [], []
    through = Resource.audience_regions.through
    for resource, plan, audience in zip(resources, plans, audiences, strict=True):
        plan.resource_id = resource.pk
        for weekday in plan.days:
            for opens, closes in plan.profile.periods:
                hours.append(
                    OpeningHours(
                        resource=resource,
                        weekday=weekday,
                        opens=datetime.time.fromisoformat(opens),
                        closes=datetime.time.fromisoformat(closes),
                    )
                )
        if plan.blackout:
            blackouts.append(
                Blackout(
                    resource=resource,
                    first_day=min(plan.blackout),
                    last_day=max(plan.blackout),
                    reason="检修",
                )
            )
        if audience:
            opened_to.append(through(resource_id=resource.pk, region_id=audience))
    OpeningHours.objects.bulk_create(hours, batch_size=5000)
    Blackout.objects.bulk_create(blackouts)
    through.objects.bulk_create(opened_to, batch_size=5000)
    return plans


# ---------------------------------------------------------------------------------------------------------
# How many bookings each resource has on each day


def ahead_share(offset: int, book_ahead: int) -> float:
    """Fewer bookings are made yet the further ahead a day is."""
    if offset < 0:
        return 1.0
    return max(0.1, 1.0 - offset / (book_ahead + 1))


def day_limit(plan: Plan) -> int:
    """The most bookings a day can take without crowding the generator's placement."""
    profile = plan.profile
    open_minutes = sum((minutes(c) - minutes(o)) % 1440 or 1440 for o, c in profile.periods)
    if plan.capacity == 1:
        slots = open_minutes // profile.slot
        per = math.ceil(profile.min_minutes / profile.slot) + math.ceil(profile.buffer / profile.slot)
        return max(1, (slots + math.ceil(profile.buffer / profile.slot)) // per)
    mean_length = sum(length * w for length, w in profile.lengths) / sum(w for _l, w in profile.lengths)
    return max(1, int(0.6 * plan.capacity * open_minutes / mean_length))


def plan_counts(args, rng: random.Random, plans: list[Plan], today: datetime.date) -> int:
    """Sets each plan's bookings per day so that they sum to exactly args.bookings (if the days have room)."""
    cells = []  # (plan, day, expected)
    for plan in plans:
        plan.limit = day_limit(plan)
        for offset in range(-args.days_back, plan.book_ahead + 1):
            day = today + datetime.timedelta(days=offset)
            # An overnight booking runs into the next day, which must not be closed either.
            closed = {day, day + datetime.timedelta(days=1)} if plan.profile.kind == "parking" else {day}
            if day.weekday() in plan.days and not closed & plan.blackout:
                cells.append((plan, day, plan.rate * ahead_share(offset, plan.book_ahead)))
    scale = args.bookings / sum(expected for _plan, _day, expected in cells)
    total = 0
    for plan, day, expected in cells:
        value = expected * scale * rng.lognormvariate(-0.045, 0.3)  # a mean of 1
        count = min(plan.limit, int(value) + (rng.random() < value - int(value)))
        plan.counts[day] = count
        total += count
    # Add or take single bookings on random days until the total is exact.
    for _attempt in range(50 * len(cells)):
        if total == args.bookings:
            break
        plan, day, _expected = cells[rng.randrange(len(cells))]
        if total < args.bookings and plan.counts[day] < plan.limit:
            plan.counts[day] += 1
            total += 1
        elif total > args.bookings and plan.counts[day] > 0:
            plan.counts[day] -= 1
            total -= 1
    return total


# ---------------------------------------------------------------------------------------------------------
# The bookings: placed and written in the worker processes

FIELDS = (
    "resource booked_by resident starts_at ends_at blocked_until release_at exclusive party_size plate note "
    "status price_kind price_due request_key created_at decided_by decided_at reason checked_in_at "
    "checked_in_by cancelled_at cancelled_by reminded_at"
).split()
_context: dict = {}


def _worker_init(database_url: str, seed: int, now: datetime.datetime, people: dict, workers: dict) -> None:
    _context.update(database_url=database_url, seed=seed, now=now, people=people, workers=workers)


def place_exclusive(rng: random.Random, plan: Plan, count: int) -> list[tuple[int, int, int]]:
    """`count` bookings end to end in the day's one period, with random gaps: (start, end, places) in
    minutes from midnight. Each takes its length plus the buffer; the last one's buffer may pass the close."""
    profile = plan.profile
    opens, closes = (minutes(t) for t in profile.periods[0])
    slots = (closes - opens) // profile.slot
    buffer = math.ceil(profile.buffer / profile.slot)
    lengths = [math.ceil(weighted(rng, profile.lengths) / profile.slot) for _k in range(count)]
    while lengths and sum(lengths) + buffer * (len(lengths) - 1) > slots:
        longest = max(range(len(lengths)), key=lengths.__getitem__)
        shortest = math.ceil(profile.min_minutes / profile.slot)
        if lengths[longest] > shortest:
            lengths[longest] -= 1
        else:
            lengths.pop()
    spare = slots - sum(lengths) - buffer * max(0, len(lengths) - 1)
    cuts = sorted(rng.randint(0, spare) for _k in range(len(lengths)))
    placed, at, previous_cut = [], 0, 0
    for length, cut in zip(lengths, cuts, strict=True):
        at += cut - previous_cut
        previous_cut = cut
        placed.append((opens + at * profile.slot, opens + (at + length) * profile.slot, 1))
        at += length + buffer
    return placed


def place_pooled(rng: random.Random, plan: Plan, count: int) -> list[tuple[int, int, int]]:
    """`count` bookings of random starts, lengths and parties that fit the places left in each slot they
    hold; periods may run past midnight (minutes above 1440)."""
    profile = plan.profile
    periods = []
    for opens, closes in profile.periods:
        start, end = minutes(opens), minutes(closes)
        end += 1440 if end <= start else 0
        periods.append((start, (end - start) // profile.slot, [0] * ((end - start) // profile.slot + 1)))
    buffer = math.ceil(profile.buffer / profile.slot)
    placed = []
    for _k in range(count):
        for _try in range(6):
            start, slots, taken = periods[rng.randrange(len(periods))]
            length = min(slots, math.ceil(weighted(rng, profile.lengths) / profile.slot))
            first = 0 if length == slots else rng.randrange(slots - length + 1)
            party = min(weighted(rng, profile.parties), plan.capacity)
            held = range(first, min(first + length + buffer, len(taken)))
            if all(taken[s] + party <= plan.capacity for s in held):
                for s in held:
                    taken[s] += party
                placed.append((start + first * profile.slot, start + (first + length) * profile.slot, party))
                break
    return placed


def price_of(plan: Plan, length: int, party: int) -> Decimal:
    kind, unit, _amount = plan.profile.price
    if kind == "free":
        return Decimal(0)
    amount = plan.price_amount * party
    if unit == "hour":
        amount *= Decimal(length) / 60
    return amount.quantize(Decimal("0.01"), rounding=ROUND_CEILING)


@functools.cache
def plate_of(user_id: int) -> str:
    rng = random.Random(user_id)
    return "川A" + "".join(rng.choice(PLATE_CHARS) for _k in range(5))


def booking_rows(
    plan: Plan, rng: random.Random, now: datetime.datetime, bookers: list, worker: int, rows: list
) -> int:
    """Appends the plan's bookings to `rows` as COPY rows, day by day; a day that cannot take all of its
    bookings passes the rest on to the next. Returns how many found no room at all."""
    from gongzhi.sharing import rules

    profile = plan.profile
    exclusive = plan.capacity == 1
    minute = datetime.timedelta(minutes=1)
    carry, n = 0, 0
    for day in sorted(plan.counts):
        wanted = plan.counts[day] + carry
        placed = (place_exclusive if exclusive else place_pooled)(rng, plan, wanted)
        carry = wanted - len(placed)
        midnight = rules.at(day, datetime.time())
        for start_minute, end_minute, party in placed:
            n += 1
            starts_at = midnight + start_minute * minute
            ends_at = midnight + end_minute * minute
            # Regulars book more often than others.
            user_id, resident_id = bookers[int(len(bookers) * rng.random() ** 2)]
            lead = min(profile.book_ahead * 1440, rng.expovariate(1 / 2880)) * minute
            created_at = min(starts_at - max(lead, 30 * minute), now - rng.random() * 60 * minute)
            created_at = max(created_at, starts_at - profile.book_ahead * 1440 * minute)
            status, decided, checked_in, cancelled = status_of(rng, plan, starts_at, ends_at, created_at, now)
            reminder = starts_at - 120 * minute
            reminded_at = (
                reminder
                if status in ("confirmed", "checked_in", "no_show") and created_at < reminder <= now
                else None
            )
            rows.append(
                (
                    plan.resource_id,
                    user_id,
                    resident_id,
                    starts_at,
                    ends_at,
                    ends_at + profile.buffer * minute,
                    starts_at + plan.release_after * minute,
                    exclusive,
                    party,
                    plate_of(user_id) if profile.plate else "",
                    "",
                    status,
                    profile.price[0],
                    price_of(plan, end_minute - start_minute, party),
                    f"{user_id}:gen-{plan.resource_id}-{n}",
                    created_at,
                    worker if decided else None,
                    decided,
                    "" if status != "declined" else "时间冲突，请改约",
                    checked_in,
                    user_id if checked_in else None,
                    cancelled,
                    user_id if cancelled else None,
                    reminded_at,
                )
            )
    return carry


def status_of(rng: random.Random, plan: Plan, starts_at, ends_at, created_at, now):
    """(status, decided_at, checked_in_at, cancelled_at) of a booking, by where it lies from now."""
    minute = datetime.timedelta(minutes=1)
    approval = plan.profile.approval
    decided = min(created_at + rng.randint(10, 600) * minute, starts_at, now) if approval else None
    roll = rng.random()
    if roll < 0.1:
        latest = min(starts_at - 60 * minute, now)
        cancelled = created_at + (latest - created_at) * rng.random() if latest > created_at else created_at
        return "cancelled", None, None, cancelled
    if approval and roll < 0.13:
        return "declined", decided, None, None
    if starts_at > now:
        if approval and roll < 0.4:
            return "pending", None, None, None
        return "confirmed", decided, None, None
    release_at = starts_at + plan.release_after * minute
    if roll < 0.16 and release_at <= now:
        return "no_show", decided, None, None
    checked_in = starts_at + rng.randint(-10, 10) * minute
    if checked_in > now:
        return "confirmed", decided, None, None
    return "checked_in", decided, checked_in, None


def load_plans(plans: list[Plan]) -> dict:
    """In a worker process: generates and copies the bookings of these resources."""
    from gongzhi.sharing.models import Booking

    context = _context
    rng = random.Random(f"{context['seed']}:{plans[0].resource_id}")
    rows = carried = 0
    with psycopg.connect(context["database_url"]) as conn:
        pending = []
        for plan in plans:
            community_people = context["people"][plan.community_id]
            bookers = (
                community_people["street"]
                if plan.profile.owner == "enterprise"
                else community_people["booking"]
            )
            worker = context["workers"][plan.community_id]
            carried += booking_rows(plan, rng, context["now"], bookers, worker, pending)
            if len(pending) >= CHUNK:
                copy_rows(conn, Booking, FIELDS, pending)
                conn.commit()
                rows += len(pending)
                pending = []
        copy_rows(conn, Booking, FIELDS, pending)
        conn.commit()
        rows += len(pending)
    return {"rows": rows, "not_placed": carried}


# ---------------------------------------------------------------------------------------------------------
# Schema: what is dropped during the load and put back afterwards


def detach(conn: psycopg.Connection, table: str) -> tuple[list[str], list[str]]:
    """Drops the table's unique and foreign key constraints and its secondary indexes (the primary key, the
    check constraints and the exclusion constraint stay); returns the statements that put them back."""
    indexes, foreign_keys = [], []
    for name, kind, definition in conn.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
        [table],
    ).fetchall():
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        statement = f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        (foreign_keys if kind == "f" else indexes).append(statement)
    for name, definition in conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [table],
    ).fetchall():
        conn.execute(f"DROP INDEX {name}")
        indexes.append(definition)
    conn.commit()
    return indexes, foreign_keys


def recheck(sample: int, seed: int) -> list[str]:
    """Re-checks a random sample of the bookings with the services' own time rules as of when each was
    made (`rules.check_times`: opening hours across midnight, blackouts, slot steps, lengths, horizon)."""
    from django.core.exceptions import ValidationError

    from gongzhi.core.exceptions import ServiceError
    from gongzhi.sharing import rules, services
    from gongzhi.sharing.models import Booking

    last = Booking.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    rng = random.Random(seed)
    chosen = Booking.objects.filter(pk__in=[rng.randint(1, last) for _k in range(sample)]).select_related(
        "resource"
    )
    problems = []
    for booking in chosen.prefetch_related("resource__hours", "resource__blackouts"):
        resource = booking.resource
        try:
            rules.check_times(
                start=booking.starts_at,
                end=booking.ends_at,
                limits=services.limits_of(resource),
                hours=services.hours_of(resource),
                blackouts=[(b.first_day, b.last_day) for b in resource.blackouts.all()],
                now=booking.created_at,
            )
        except (ServiceError, ValidationError) as error:
            problems.append(f"booking {booking.pk}: {error}")
    return problems


SCHEMA = """
SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE conrelid = %(t)s::regclass
 UNION ALL
SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %(t)s::regclass
"""


def schema_of(conn: psycopg.Connection, table: str) -> set[str]:
    return {row[0] for row in conn.execute(SCHEMA, {"t": table}).fetchall()}


# Occupancy only changes where a booking starts or its hold ends: a running sum over those moments, ends
# before starts at the same moment (half-open intervals), finds every pooled resource's peak.
OVERFULL = """
SELECT h.resource_id, max(h.held) AS peak, r.capacity
  FROM (SELECT resource_id, sum(places) OVER (
               PARTITION BY resource_id ORDER BY moment, places ROWS UNBOUNDED PRECEDING) AS held
          FROM (SELECT resource_id, starts_at AS moment, party_size AS places FROM sharing_booking
                 WHERE NOT exclusive AND status IN ('pending', 'confirmed', 'checked_in')
                 UNION ALL
                SELECT resource_id, blocked_until, -party_size FROM sharing_booking
                 WHERE NOT exclusive AND status IN ('pending', 'confirmed', 'checked_in')) AS changes
       ) AS h
  JOIN sharing_resource r ON r.id = h.resource_id
 GROUP BY h.resource_id, r.capacity
HAVING max(h.held) > r.capacity
"""


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    os.environ.update(env)
    import django

    name = urlsplit(args.database_url).path.lstrip("/")
    print(f"Recreating and migrating {name} ...", flush=True)
    started = time.monotonic()
    recreate_database(args.database_url)
    migrate(env)
    migrated = time.monotonic()

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from gongzhi.sharing.models import Booking

    rng = random.Random(args.seed)
    now = timezone.now()
    today = timezone.localdate(now)
    city = build_city(args, rng)
    plans = build_resources(args, rng, city, now)
    people = city["people"]
    for street in city["streets"]:
        members = [c for c in city["communities"] if c.parent_id == street.pk]
        everyone = [pair for community in members for pair in people[community.pk]["booking"]]
        rng.shuffle(everyone)
        for community in members:
            people[community.pk]["street"] = everyone
    planned_total = plan_counts(args, rng, plans, today)
    built = time.monotonic()
    print(
        f"  {len(city['communities'])} communities, {len(plans):,} resources, "
        f"{sum(len(p['booking']) + len(p['idle']) for p in people.values()):,} residents with accounts "
        f"({migrated - started:.0f} s migrate, {built - migrated:.0f} s build); "
        f"{planned_total:,} bookings planned",
        flush=True,
    )

    table = Booking._meta.db_table
    with psycopg.connect(args.database_url) as conn:
        migrated_schema = schema_of(conn, table)
        indexes, foreign_keys = detach(conn, table)
    connection.close()
    print(f"Loading the bookings with {args.workers} processes ...", flush=True)
    groups: list[list[Plan]] = [[] for _k in range(max(1, 8 * args.workers))]
    for plan in sorted(plans, key=lambda plan: -sum(plan.counts.values())):
        min(groups, key=lambda group: sum(sum(p.counts.values()) for p in group)).append(plan)
    rows = not_placed = 0
    context = multiprocessing.get_context("fork")
    initargs = (args.database_url, args.seed, now, people, city["workers"])
    with context.Pool(args.workers, _worker_init, initargs) as pool:
        for result in pool.imap_unordered(load_plans, [group for group in groups if group]):
            rows += result["rows"]
            not_placed += result["not_placed"]
            print(f"  {rows:,} bookings, {rows / (time.monotonic() - built):,.0f}/s", flush=True)
    loaded = time.monotonic()

    print(
        f"Rebuilding {len(indexes)} indexes and unique keys and {len(foreign_keys)} foreign keys ...",
        flush=True,
    )
    reattach_indexes(args.database_url, indexes, foreign_keys, args.workers)
    indexed = time.monotonic()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        vacuumed = time.monotonic()
        overfull = conn.execute(OVERFULL).fetchall()
        rechecked = recheck(RECHECKED, args.seed)
        checked = time.monotonic()
        schema_differs = sorted(schema_of(conn, table) ^ migrated_schema)
        statuses = dict(
            conn.execute(f"SELECT status, count(*) FROM {table} GROUP BY 1 ORDER BY 1").fetchall()
        )
        by_kind = dict(
            conn.execute(
                f"SELECT r.kind, count(*) FROM {table} b JOIN sharing_resource r ON r.id = b.resource_id"
                " GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        sizes = {
            relation: conn.execute(
                "SELECT pg_size_pretty(pg_total_relation_size(%s))", [relation]
            ).fetchone()[0]
            for relation in (table, "sharing_resource")
        }
        database_size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()[0]
        first, last = conn.execute(f"SELECT min(starts_at), max(starts_at) FROM {table}").fetchone()

    summary = {
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "now": now.isoformat(),
        "database": name,
        "communities": len(city["communities"]),
        "resources": len(plans),
        "bookings": rows,
        "planned": planned_total,
        "not_placed": not_placed,
        "statuses": statuses,
        "by_kind": by_kind,
        "first_start": first.isoformat() if first else None,
        "last_start": last.isoformat() if last else None,
        "seconds": {
            "migrate": round(migrated - started, 1),
            "build": round(built - migrated, 1),
            "copy": round(loaded - built, 1),
            "indexes": round(indexed - loaded, 1),
            "vacuum_analyze": round(vacuumed - indexed, 1),
            "checks": round(checked - vacuumed, 1),
            "total": round(checked - started, 1),
        },
        "bookings_per_second_in_copy": round(rows / max(loaded - built, 0.001)),
        "sizes": {**sizes, "database": database_size},
        "overfull": [list(map(str, row)) for row in overfull],
        "schema_differs": schema_differs,
        "rechecked": RECHECKED,
        "recheck_problems": rechecked,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    out = benchenv.OUT_DIR / "sharing-generate.json"
    out.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    seconds = summary["seconds"]
    print(
        f"\n{rows:,} bookings of {len(plans):,} resources in {seconds['total']} s: "
        f"migrate {seconds['migrate']} s, build {seconds['build']} s, "
        f"COPY {seconds['copy']} s ({summary['bookings_per_second_in_copy']:,}/s), "
        f"indexes and keys {seconds['indexes']} s, VACUUM ANALYZE {seconds['vacuum_analyze']} s, "
        f"checks {seconds['checks']} s"
    )
    print(f"  statuses {statuses}")
    print(f"  by kind {by_kind}")
    print(f"  starts from {first} to {last}; sizes {summary['sizes']}")
    print(f"Saved to {out.relative_to(benchenv.ROOT)}")
    print(f"  {table} afterwards: {'as migrated' if not schema_differs else schema_differs}")
    print(f"  pooled resources over capacity: {len(overfull)}")
    print(f"  {RECHECKED:,} random bookings re-checked with rules.check_times: {len(rechecked)} refused")
    for problem in rechecked[:10]:
        print(f"PROBLEM: {problem}")
    if overfull:
        print(f"PROBLEM: pooled resources over capacity: {overfull}")
    if overfull or schema_differs or rechecked:
        raise SystemExit(1)
    if rows != args.bookings:
        print(f"Note: {rows:,} bookings written, {args.bookings:,} asked ({not_placed:,} found no room).")


if __name__ == "__main__":
    main()
