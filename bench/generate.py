"""Builds a city-scale roster on PostgreSQL for the load benchmark.

    .venv/bin/python bench/generate.py            # 300 communities, 1,000,000 residents and 1,000,000 matters
    .venv/bin/python bench/generate.py --communities 5 --residents 20000 --matters 20000   # a quick run

It (re)creates the database named in BENCH_DATABASE_URL (default gongzhi_bench; the name must contain
"bench", since it is dropped first), migrates it with `manage.py migrate`, and fills it:

- the region tree city -> districts -> streets -> communities -> grids -> compounds -> buildings, with paths
  and depths exactly as `gongzhi.core.services.region_create` makes them ("/<pk>/<pk>/", depth from 0);
- households and residents with valid GB 11643 ID numbers unique across the city, phone numbers, both
  encrypted with `gongzhi.core.crypto.encrypt`, with their lookup hashes and masked columns;
- resident tags (elderly, living alone, children, and a few of the sensitive groups);
- a community worker for one community, a street officer for its street, a district officer for its
  district and a compound leader for its first compound (mobiles and password printed);
- with --matters (1,000,000 by default; 0 skips them): a year of matters with their timelines and followers,
  reported by a pool of resident accounts and handled by one generated role holder per compound, community,
  street and district, as `gongzhi.matters.services` would have written them (see `MatterPlay`).

The big tables are loaded with COPY from one process per core, each encrypting and copying whole
communities; ids are assigned up front so that no process waits for another. Secondary indexes and
foreign keys of the big tables are dropped during the load and rebuilt afterwards from their own
definitions, so the schema ends exactly as migrated. Matters are loaded the same way after the residents,
in chunks of consecutive ids in the order they were reported, so that the table lies in time order as a
real one would. VACUUM ANALYZE runs at the end.
"""

import argparse
import bisect
import datetime
import itertools
import json
import math
import multiprocessing
import os
import random
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import benchenv
import psycopg

# Identity numbers: GB 11643 area codes (those of the demo's Chengdu roster), 999 sequence numbers each;
# residents sharing an (area, sequence) pair are told apart by their birth dates (see `id_number`).
SEQUENCES = 999

# Age bands and their shares (a city with a fifth of its people over 60, as the 2020 census found).
AGE_BANDS = ((0, 17, 0.17), (18, 39, 0.30), (40, 59, 0.31), (60, 79, 0.18), (80, 99, 0.04))
HOUSEHOLD_SIZES = ((1, 0.25), (2, 0.30), (3, 0.25), (4, 0.12), (5, 0.08))
HOUSEHOLDS_PER_BUILDING = 60  # 2 units x 18 floors x 2 rooms hold 72; leave some room
HOUSEHOLDS_PER_GRID = 250  # DESIGN: a grid holds 150-300 households
COMMUNITIES_PER_STREET = 10
STREETS_PER_DISTRICT = 5

# Filled in each worker process by `_worker_init`.
_worker: dict = {}


@dataclass
class CommunityPlan:
    index: int
    community_id: int
    building_ids: list[int]
    household_sizes: list[int]
    first_household_id: int
    first_person: int  # resident id = person + 1; the person number also fixes the ID number


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--communities", type=int, default=300)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--matters", type=int, default=1_000_000, help="matters over the past year; 0 skips")
    parser.add_argument("--database-url", default=benchenv.DATABASE_URL)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="processes encrypting and copying"
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.communities < 1 or args.residents < args.communities * 10:
        parser.error("need at least one community and ten residents per community")
    if args.matters < 0:
        parser.error("--matters cannot be negative")
    return args


# ---------------------------------------------------------------------------------------------------------
# Database setup


def recreate_database(database_url: str) -> None:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"Refusing to drop database {name!r}: the benchmark database's name must contain 'bench'.")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [str(benchenv.PYTHON), "manage.py", "migrate", "--noinput", "--skip-checks", "-v", "0"],
        cwd=benchenv.ROOT,
        env=env,
        check=True,
    )


def columns(model, names: list[str]) -> str:
    return ", ".join(model._meta.get_field(name).column for name in names)


def copy_rows(conn: psycopg.Connection, model, names: list[str], rows) -> None:
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY {model._meta.db_table} ({columns(model, names)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def detach_indexes(conn: psycopg.Connection, tables: list[str]) -> tuple[list[str], list[str]]:
    """Drops the secondary indexes, unique constraints and foreign keys of `tables` (primary keys and
    check constraints stay) and returns the statements that put them back: (indexes and unique keys,
    foreign keys)."""
    indexes, foreign_keys = [], []
    for table in tables:
        constraints = conn.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
            [table],
        ).fetchall()
        for name, kind, definition in constraints:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            statement = f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            (foreign_keys if kind == "f" else indexes).append(statement)
        plain = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = %s::regclass AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [table],
        ).fetchall()
        for name, definition in plain:
            conn.execute(f"DROP INDEX {name}")
            indexes.append(definition)
    conn.commit()
    return indexes, foreign_keys


def reattach_indexes(database_url: str, indexes: list[str], foreign_keys: list[str], workers: int) -> None:
    def build(statement: str) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute(statement)

    # CREATE INDEX takes a lock that does not conflict with itself: one index per core at a time.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(build, indexes))
    # Adding a foreign key locks both tables against other such changes, so these go one by one.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for statement in foreign_keys:
            conn.execute(statement)


# ---------------------------------------------------------------------------------------------------------
# The plan: sizes and ids of everything, decided up front in the main process


class RegionTree:
    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, *, name: str, level: str, parent: tuple | None) -> tuple:
        # The same path and depth region_create gives: the parent's path plus the new key, depth from 0.
        pk = len(self.rows) + 1
        path = f"{parent[4] if parent else '/'}{pk}/"
        row = (pk, name, level, parent[0] if parent else None, path, parent[5] + 1 if parent else 0)
        self.rows.append(row)
        return row


def split_evenly(total: int, weights: list[float]) -> list[int]:
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for k in range(total - sum(counts)):
        counts[k % len(counts)] += 1
    return counts


def household_sizes(rng: random.Random, residents: int) -> list[int]:
    sizes_, weights = zip(*HOUSEHOLD_SIZES, strict=True)
    sizes: list[int] = []
    remaining = residents
    while remaining > 0:
        size = min(rng.choices(sizes_, weights)[0], remaining)
        sizes.append(size)
        remaining -= size
    return sizes


def plan_city(args: argparse.Namespace) -> tuple[RegionTree, list[CommunityPlan], dict]:
    rng = random.Random(args.seed)
    # Community sizes vary from half to one and a half times the average.
    residents_per_community = split_evenly(
        args.residents, [rng.uniform(0.5, 1.5) for _ in range(args.communities)]
    )
    tree = RegionTree()
    city = tree.add(name="基准市", level="city", parent=None)
    streets_needed = math.ceil(args.communities / COMMUNITIES_PER_STREET)
    districts = [
        tree.add(name=f"第{d + 1}区", level="district", parent=city)
        for d in range(math.ceil(streets_needed / STREETS_PER_DISTRICT))
    ]
    streets = [
        tree.add(name=f"第{s + 1}街道", level="street", parent=districts[s // STREETS_PER_DISTRICT])
        for s in range(streets_needed)
    ]
    plans: list[CommunityPlan] = []
    next_household_id, next_person = 1, 0
    # The staff accounts work in the largest community (about 1.5 times the average), its first compound, its
    # street and its district.
    staff_community = staff_street = staff_compound = None
    largest = max(residents_per_community)
    for c, residents in enumerate(residents_per_community):
        street = streets[c // COMMUNITIES_PER_STREET]
        community = tree.add(name=f"第{c + 1}社区", level="community", parent=street)
        if staff_community is None and residents == largest:
            staff_community, staff_street = community, street
        sizes = household_sizes(rng, residents)
        households = len(sizes)
        grids = [
            tree.add(name=f"第{g + 1}网格", level="grid", parent=community)
            for g in range(max(1, round(households / HOUSEHOLDS_PER_GRID)))
        ]
        buildings_needed = max(1, math.ceil(households / HOUSEHOLDS_PER_BUILDING))
        compounds = [
            tree.add(name=f"{k + 1}号院", level="compound", parent=grids[k % len(grids)])
            for k in range(min(2 * len(grids), buildings_needed))
        ]
        if community is staff_community:
            staff_compound = compounds[0]
        buildings = [
            tree.add(name=f"{b + 1}栋", level="building", parent=compounds[b % len(compounds)])[0]
            for b in range(buildings_needed)
        ]
        plans.append(CommunityPlan(c, community[0], buildings, sizes, next_household_id, next_person))
        next_household_id += households
        next_person += residents
    staff = {
        "community_id": staff_community[0],
        "community": staff_community[1],
        "community_residents": largest,
        "street_id": staff_street[0],
        "street": staff_street[1],
        "district_id": staff_street[3],
        "district": tree.rows[staff_street[3] - 1][1],
        "compound_id": staff_compound[0],
        "compound": staff_compound[1],
    }
    return tree, plans, staff


# ---------------------------------------------------------------------------------------------------------
# Worker processes: each takes whole communities, encrypts and copies them


def _worker_init(database_url: str, seed: int, blocks: int) -> None:
    _worker["conn"] = psycopg.connect(database_url)
    _worker["conn"].execute("SET synchronous_commit = off")
    _worker.update(
        seed=seed, blocks=blocks, today=datetime.date.today(), now=datetime.datetime.now(datetime.UTC)
    )


@cache
def area_codes() -> tuple[str, ...]:
    from gongzhi.core.demo import CHENGDU_AREA_CODES, LIANGSHAN_AREA_CODES, SICHUAN_AREA_CODES

    return CHENGDU_AREA_CODES + SICHUAN_AREA_CODES + LIANGSHAN_AREA_CODES


def identity_pairs() -> int:
    return len(area_codes()) * SEQUENCES


def id_number(person: int, days_old: int, blocks: int, today: datetime.date) -> tuple[str, datetime.date]:
    """A GB 11643 number unique to `person` across the city. Person numbers sharing an (area, sequence)
    pair fall in different blocks, and a person's birth date is moved by a few days so that its day count
    modulo the number of blocks is the block's own: no two people get the same number."""
    from gongzhi.core.validators import id_number_check_char

    areas = area_codes()
    block, pair = divmod(person, identity_pairs())
    area, sequence = areas[pair % len(areas)], pair // len(areas) + 1  # sequences run 001-999
    days_old = days_old - days_old % blocks + block
    birth = today - datetime.timedelta(days=days_old)
    first17 = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_number_check_char(first17), birth


def mobile(person: int) -> str:
    """A mobile number of its own for each person (gongzhi.core.demo.fake_mobile draws them at random,
    which would repeat at city scale): 48271 is prime to 10**8, so the eight digits differ for every
    person sharing a prefix."""
    from gongzhi.core.demo import MOBILE_PREFIXES

    prefix = MOBILE_PREFIXES[person % len(MOBILE_PREFIXES)]
    return f"{prefix}{(person // len(MOBILE_PREFIXES) * 48271 + 12345) % 10**8:08d}"


def _age(rng: random.Random, *, adult: bool) -> int:
    bands = AGE_BANDS[1:] if adult else AGE_BANDS
    low, high, _ = rng.choices(bands, [share for *_, share in bands])[0]
    return rng.randint(low, high)


def load_community(plan: CommunityPlan) -> tuple[int, int, int]:
    from gongzhi.core.crypto import encrypt, lookup_hash, mask_id_number, mask_phone
    from gongzhi.core.demo import fake_name, fake_surname
    from gongzhi.core.models import Household, Resident, ResidentTag

    conn, today, now, blocks = _worker["conn"], _worker["today"], _worker["now"], _worker["blocks"]
    rng = random.Random(f"{_worker['seed']}:{plan.index}")
    households, residents, tags = [], [], []
    person = plan.first_person
    buildings = plan.building_ids
    for h, size in enumerate(plan.household_sizes):
        household_id = plan.first_household_id + h
        building = buildings[h % len(buildings)]
        k = h // len(buildings)  # the household's place in its building: unit, floor, room
        households.append(
            (
                household_id,
                plan.community_id,
                building,
                f"{k // 36 + 1}-{k % 36 // 2 + 1}{k % 2 + 1:02d}",
                now,
            )
        )
        surname = fake_surname(rng)
        for member in range(size):
            days_old = _age(rng, adult=member == 0) * 365 + rng.randrange(365)
            number, birth = id_number(person, days_old, blocks, today)
            age = (today - birth).days // 365
            sex = "M" if int(number[16]) % 2 else "F"
            # Most members share the head's surname (a spouse mostly does not).
            name = fake_name(rng, sex, birth.year, surname if member == 0 or rng.random() < 0.6 else None)
            phone = mobile(person) if age >= 12 and rng.random() < 0.95 else ""
            resident_id = person + 1
            residents.append(
                (
                    resident_id,
                    plan.community_id,
                    building,
                    household_id,
                    name,
                    sex,
                    birth,
                    encrypt(number),
                    lookup_hash(number),
                    mask_id_number(number),
                    encrypt(phone) if phone else "",
                    lookup_hash(phone) if phone else "",
                    mask_phone(phone) if phone else "",
                    member == 0,
                    now,
                    now,
                )
            )
            if age >= 60:
                tags.append((resident_id, ResidentTag.Tag.ELDERLY.value))
                if size == 1:
                    tags.append((resident_id, ResidentTag.Tag.LIVING_ALONE.value))
            elif age < 18:
                tags.append((resident_id, ResidentTag.Tag.CHILD.value))
            for tag, share in (
                ("disability", 0.015),
                ("low_income", 0.02),
                ("minority", 0.03),
                ("health", 0.03),
                ("veteran", 0.01),
            ):
                if rng.random() < share:
                    tags.append((resident_id, tag))
            person += 1
    copy_rows(conn, Household, ["id", "community", "region", "number", "created_at"], households)
    copy_rows(
        conn,
        Resident,
        [
            "id",
            "community",
            "region",
            "household",
            "name",
            "sex",
            "birth_date",
            "id_number",
            "id_number_hash",
            "id_number_masked",
            "phone",
            "phone_hash",
            "phone_masked",
            "is_household_head",
            "created_at",
            "updated_at",
        ],
        residents,
    )
    copy_rows(conn, ResidentTag, ["resident", "tag"], tags)
    conn.commit()
    return len(households), len(residents), len(tags)


# ---------------------------------------------------------------------------------------------------------
# Matters: a year of what residents reported and how each tier handled it


TIERS = ("compound", "community", "street", "district")  # gongzhi.matters.models.TIER_ORDER
TIER_ROLES = {
    "compound": "compound_leader",
    "community": "community_worker",
    "street": "street_officer",
    "district": "district_officer",
}
MATTER_CHUNK = 10_000  # consecutive matter ids per task, about three and a half days of the city's matters
USER_CHUNK = 10_000
RESIDENTS_PER_ACCOUNT = 5  # one resident in five has an account and reports; each reports about five a year
# Share of matters by default category; codes the platform adds later get a small share of their own.
CATEGORY_SHARES = {
    "gas-leak": 0.01,
    "water-power": 0.08,
    "repairs": 0.22,
    "sanitation": 0.14,
    "noise": 0.10,
    "parking": 0.12,
    "greenery": 0.06,
    "elderly-care": 0.06,
    "neighbour-dispute": 0.05,  # private: never on the public board
    "building-safety": 0.03,
    "other": 0.13,
}
URGENT_SHARES = {"gas-leak": 0.8, "water-power": 0.3}  # the rest: 3 %
# Reports by hour of day (local time): few at night, most in the morning and early evening.
HOUR_WEIGHTS = (1, 0.5, 0.3, 0.3, 0.3, 0.5, 1.5, 3, 5, 7, 8, 8, 6, 5, 6, 7, 7, 6, 5, 5, 5, 4, 3, 2)
# How matters go. The shares in the README ("Matters") are what these give, measured on the full run.
P_COORDINATES = 0.6
P_HIDE_NAME = 0.15
P_ASSISTED = 0.06  # entered by the compound leader or community worker for a resident without an account
P_WITHDRAW = 0.008
P_DUPLICATE = 0.015
P_RETURN = 0.01
P_LATE_RESPONSE = 0.02  # not accepted within the tier's response deadline: escalated by the periodic task
P_LATE_RESOLUTION = 0.015
P_ESCALATE_BY_HAND = (0.085, 0.02)  # at the entry tier, at a tier it climbed to
P_ME_TOO = 0.04
# The reporter's answer to a resolution: resolved, not resolved, or silence (auto-confirmed after 7 days);
# after a reopening most answer "not resolved" again, which closes the matter as not resolved.
FIRST_ANSWER = (("resolved", 0.845), ("not_resolved", 0.035), ("auto", 0.12))
SECOND_ANSWER = (("resolved", 0.15), ("not_resolved", 0.8), ("auto", 0.05))
RATINGS = ((5, 0.55), (4, 0.28), (3, 0.10), (2, 0.04), (1, 0.03))
CHENGDU = (30.66, 104.06)

DESCRIPTIONS = {
    "gas-leak": ("{place}楼道里有很重的燃气味,请马上来看看。", "{place}配电箱冒烟,有火灾隐患。"),
    "water-power": (
        "{place}停水一整天了,没有任何通知。",
        "{place}单元电表箱跳闸,整栋楼没电。",
        "{place}热水器燃气没气了。",
    ),
    "repairs": (
        "{place}楼道声控灯坏了好几天,晚上进出很不方便。",
        "{place}单元门禁坏了,老人进出不方便。",
        "{place}院坝地面塌陷,下雨积水。",
        "{place}楼梯扶手松动,上下楼很危险。",
    ),
    "sanitation": (
        "{place}垃圾分类点满了没人清运。",
        "{place}化粪池反味,很难闻。",
        "{place}楼道堆放杂物,有消防隐患。",
    ),
    "noise": (
        "{place}旁边晚上广场舞音响太大。",
        "{place}楼下商铺夜间施工噪音。",
        "{place}楼上每天深夜有很大的响动。",
    ),
    "parking": (
        "{place}电动车在楼道充电,很危险。",
        "{place}门口乱停车,救护车进不来。",
        "{place}消防通道被车辆占用。",
    ),
    "greenery": (
        "{place}绿化带的树枝挡住了路灯。",
        "{place}小花园的座椅坏了。",
        "{place}草坪被踩秃了,下雨全是泥。",
    ),
    "elderly-care": (
        "{place}独居老人需要助餐服务。",
        "{place}希望增加老年活动室开放时间。",
        "{place}老人行动不便,需要上门服务。",
    ),
    "neighbour-dispute": (
        "{place}楼上漏水到我家,协商不成。",
        "{place}邻居长期占用公共过道。",
        "{place}邻居装修影响我家墙体。",
    ),
    "building-safety": ("{place}老楼外墙瓷砖脱落,砸到了车。", "{place}楼板出现裂缝,担心结构安全。"),
    "other": ("{place}希望开设儿童托管。", "{place}快递柜不够用。", "{place}希望增加充电桩。"),
}
DESCRIPTION_TAILS = ("", "", "请尽快处理。", "已经反映过一次了。", "谢谢!", "附近好几户都有这个问题。")
RESOLUTION_NOTES = (
    "已安排人员处理完毕。",
    "已联系物业维修,现场已恢复。",
    "已协调相关单位解决。",
    "已现场核实并处理。",
)
ESCALATION_REASONS = ("超出院落处理能力,需要社区协调。", "涉及多个单位,需上级协调。", "需要专业部门处理。")
RETURN_REASONS = ("不属于本级管理范围。", "需要上一级统筹处理。")
RATING_COMMENTS = ("", "", "", "处理很及时,谢谢!", "满意。", "速度有点慢。", "还可以。")

# Filled in each matters worker process by `_matters_worker_init`.
_city: dict = {}


@dataclass
class MatterCommunity:
    community_id: int
    street_id: int
    district_id: int
    buildings: list[tuple[int, int, str]]  # (building, its compound, name used in descriptions)
    compounds: list[tuple[int, int, str]]  # (compound, itself, name)
    heads: list[tuple[int, int]]  # (head of household's resident id, index in buildings): assisted entry
    first_reporter: int  # the community's reporting accounts are users first_reporter ... + reporters - 1
    reporters: int


def matter_city(tree: RegionTree, plans: list[CommunityPlan]) -> list[MatterCommunity]:
    rows = tree.rows  # row = (pk, name, level, parent, path, depth); pk = position + 1
    communities = []
    for plan in plans:
        community = rows[plan.community_id - 1]
        street = rows[community[3] - 1]
        buildings, compounds = [], {}
        for building_id in plan.building_ids:
            building = rows[building_id - 1]
            compound = rows[building[3] - 1]
            compounds[compound[0]] = (compound[0], compound[0], compound[1])
            buildings.append((building_id, compound[0], f"{compound[1]}{building[1]}"))
        heads, person = [], plan.first_person
        for h, size in enumerate(plan.household_sizes):
            heads.append((person + 1, h % len(buildings)))  # as load_community places households
            person += size
        communities.append(
            MatterCommunity(
                plan.community_id, street[0], street[3], buildings, list(compounds.values()), heads, 0, 0
            )
        )
    return communities


# Deadlines and working time, exactly as gongzhi.matters.services and gongzhi.core.workdays compute them but
# without walking the calendar for each matter (90-150 µs a deadline, 70 µs a response time): a deadline of
# N working days from a working day falls at the same clock time N working days later, and from a rest day
# at one fixed moment, so one calendar walk per (day, N) serves every matter. `check_calendar` compares both.


def _tz():
    from django.utils import timezone

    return timezone.get_default_timezone()


@cache
def _working_deadline(day: datetime.date, amount: int) -> tuple[int | None, datetime.datetime | None]:
    from gongzhi.core.workdays import is_working_day
    from gongzhi.matters.services import deadline_after

    due = deadline_after(
        datetime.datetime.combine(day, datetime.time(12), tzinfo=_tz()), amount, "working_days"
    )
    if is_working_day(day):
        return (due.astimezone(_tz()).date() - day).days, None
    return None, due.astimezone(_tz())


def deadline(start: datetime.datetime, amount: int, unit: str) -> datetime.datetime:
    """`services.deadline_after` for a start in the default time zone."""
    if unit == "hours":
        return start + datetime.timedelta(hours=amount)
    days, fixed = _working_deadline(start.date(), amount)
    if fixed is not None:
        return fixed
    if start.time() == datetime.time.min:  # a working day's very first instant ends at its own midnight
        from gongzhi.matters.services import deadline_after

        return deadline_after(start, amount, unit).astimezone(_tz())
    return start + datetime.timedelta(days=days)


def working_seconds(start: datetime.datetime, end: datetime.datetime) -> int:
    """`int(workdays.working_time_between(start, end).total_seconds())` for moments in the default zone."""
    from gongzhi.core.workdays import is_working_day

    if end <= start:
        return 0
    day, last = start.date(), end.date()
    if day == last:
        return int((end - start).total_seconds()) if is_working_day(day) else 0
    day_length = datetime.timedelta(days=1)
    total = datetime.timedelta()
    if is_working_day(day):
        total += datetime.datetime.combine(day + day_length, datetime.time.min, tzinfo=_tz()) - start
    day += day_length
    while day < last:
        if is_working_day(day):
            total += day_length
        day += day_length
    if is_working_day(last):
        total += end - datetime.datetime.combine(last, datetime.time.min, tzinfo=_tz())
    return int(total.total_seconds())


def check_calendar(categories: list[tuple], now: datetime.datetime, samples: int = 1000) -> None:
    """Compares `deadline` and `working_seconds` with the services' own functions on random moments of the
    year (a fifth of them on a midnight), so that the shortcut can never drift from the real arithmetic."""
    from gongzhi.core.workdays import working_time_between
    from gongzhi.matters.services import deadline_after

    rng = random.Random(0)
    units = {(c[4], c[5]) for c in categories} | {(c[6], c[7]) for c in categories}
    for _ in range(samples):
        start = now - datetime.timedelta(seconds=rng.uniform(0, 400 * 86400))
        if rng.random() < 0.2:
            start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + datetime.timedelta(seconds=rng.expovariate(1 / 86400) * rng.choice((0.1, 1, 5)))
        for amount, unit in units:
            if deadline(start, amount, unit) != deadline_after(start, amount, unit):
                sys.exit(f"deadline({start}, {amount}, {unit}) differs from services.deadline_after")
        if working_seconds(start, end) != int(working_time_between(start, end).total_seconds()):
            sys.exit(f"working_seconds({start}, {end}) differs from workdays.working_time_between")


def _chance(rng: random.Random, shares) -> str:
    roll = rng.random()
    for value, share in shares:
        roll -= share
        if roll < 0:
            return value
    return shares[-1][0]


class MatterPlay:
    """One matter played forward from its report to `now`, each step as the service that does it would
    write the row and its event; the periodic tasks (overdue escalation, auto-confirmation, reminders) act a
    few minutes after their moment, as `run_periodic` does."""

    __slots__ = (
        "rng", "now", "category", "place_compound", "community", "handlers", "events", "status", "tier",
        "handling_region", "tier_response_due", "tier_due", "first_response_at", "response_seconds",
        "resolved_at", "first_resolved_at", "resolved_tier", "closed_at", "confirmation", "rating",
        "rating_comment", "reopen_count", "reopened_at", "escalations_by_hand", "escalations_by_deadline",
        "reminded_at", "duplicate_of", "moves",
    )  # fmt: skip

    def __init__(self, rng, now, category, place_compound, community: MatterCommunity, handlers):
        self.rng, self.now, self.category = rng, now, category
        self.place_compound, self.community, self.handlers = place_compound, community, handlers
        self.events: list[tuple] = []
        self.status = "submitted"
        self.first_response_at = self.response_seconds = self.resolved_at = self.first_resolved_at = None
        self.closed_at = self.rating = self.reopened_at = self.reminded_at = self.duplicate_of = None
        self.resolved_tier = self.confirmation = self.rating_comment = ""
        self.reopen_count = self.escalations_by_hand = self.escalations_by_deadline = self.moves = 0

    def region_at(self, tier: str) -> int | None:
        if tier == "compound":
            return self.place_compound
        community = self.community
        return {"community": community.community_id, "street": community.street_id}.get(
            tier, community.district_id
        )

    def route(self, tier: str, at: datetime.datetime) -> None:
        """services.matter_route, in a city where every region has its handler, then the tier's own
        deadlines afresh (services._move_to_tier)."""
        for candidate in TIERS[TIERS.index(tier) :]:
            region = self.region_at(candidate)
            if region is not None:
                break
        _id, _code, _class, _first, response_amount, response_unit, resolution_amount, resolution_unit, _p = (
            self.category
        )
        self.tier, self.handling_region, self.status = candidate, region, "submitted"
        self.tier_response_due = deadline(at, response_amount, response_unit)
        self.tier_due = deadline(at, resolution_amount, resolution_unit)
        self.reminded_at = None

    def event(self, at, actor, kind: str, note: str = "") -> None:
        self.events.append((at, actor, kind, self.status, self.tier, note))

    def handler(self) -> int:
        return self.handlers[self.handling_region]

    def lag(self) -> datetime.timedelta:
        return datetime.timedelta(minutes=self.rng.uniform(1, 10))

    def wait(self, start, due, *, share: float) -> datetime.datetime:
        """When someone acts on something due at `due`: a share of the time left, mostly early; at district
        tier, where nothing climbs further, a matter already past its deadline still gets done."""
        if due <= start:
            return start + datetime.timedelta(hours=self.rng.uniform(1, 48))
        return start + (due - start) * share

    def remind(self, start, end, due) -> None:
        """services.matters_remind_deadlines: once per tier, when the deadline is within the lead time
        while the matter waits."""
        from gongzhi.matters.services import REMINDER_LEAD

        if self.reminded_at is None:
            moment = max(start, due - REMINDER_LEAD) + self.lag()
            if moment <= min(end, due, self.now):
                self.reminded_at = moment

    def climb(self, at, *, kind: str, actor, note: str = "") -> None:
        self.route(TIERS[TIERS.index(self.tier) + 1], at)
        self.moves += 1
        self.event(at, actor, kind, note)

    def play(self, submitted, *, person: int, originals: list[int]) -> None:
        """Plays from the report on; `person` (reporter, or who entered it) withdraws and confirms."""
        rng, now = self.rng, self.now
        t = submitted
        while True:
            top = self.tier == "district"
            if self.status == "submitted":
                due = self.tier_response_due
                if self.moves == 0 and not top:
                    roll = rng.random()
                    step = t + min(datetime.timedelta(hours=rng.uniform(0.2, 12)), (due - t) * 0.9)
                    if roll < P_WITHDRAW:
                        if step <= now:
                            self.status = "withdrawn"
                            self.event(step, person, "withdrawn")
                        return
                    roll -= P_WITHDRAW
                    if roll < P_DUPLICATE and originals and step <= now:
                        self.status, self.duplicate_of = "duplicate", rng.choice(originals)
                        self.event(step, self.handler(), "duplicate", f"#{self.duplicate_of}")
                        return
                    roll -= P_DUPLICATE
                    if roll < P_RETURN and step <= now:
                        actor = self.handler()
                        self.climb(step, kind="returned", actor=actor, note=rng.choice(RETURN_REASONS))
                        t = step
                        continue
                if not top and (due <= t or rng.random() < P_LATE_RESPONSE):
                    moment = max(due, t) + self.lag()
                    self.remind(t, moment, due)
                    if moment > now:
                        return
                    self.escalations_by_deadline += 1
                    self.climb(moment, kind="escalated_overdue", actor=None)
                    t = moment
                    continue
                accepted = self.wait(t, due, share=0.97 * rng.random() ** 3)
                self.remind(t, accepted, due)
                if accepted > now:
                    return
                self.status = "accepted"
                if self.first_response_at is None:
                    self.first_response_at = accepted
                    self.response_seconds = working_seconds(submitted, accepted)
                self.event(accepted, self.handler(), "accepted")
                t = accepted
            elif self.status == "accepted":
                due = self.tier_due
                if not top and due > t and rng.random() < P_ESCALATE_BY_HAND[self.moves > 0]:
                    moment = t + min(datetime.timedelta(hours=rng.uniform(0.5, 24)), (due - t) * 0.5)
                    if moment > now:
                        return
                    self.escalations_by_hand += 1
                    actor = self.handler()
                    self.climb(moment, kind="escalated", actor=actor, note=rng.choice(ESCALATION_REASONS))
                    t = moment
                    continue
                started = self.wait(t, due, share=0.1 * rng.random() ** 2)
                if started > now:
                    return
                self.status = "in_progress"
                self.event(started, self.handler(), "started")
                t = started
            elif self.status == "in_progress":
                due = self.tier_due
                # A matter reopened after its tier's deadline is overdue at once: the service does not give
                # the tier new time on a reopening, so the next periodic run escalates it.
                if not top and (due <= t or rng.random() < P_LATE_RESOLUTION):
                    moment = max(due, t) + self.lag()
                    self.remind(t, moment, due)
                    if moment > now:
                        return
                    self.escalations_by_deadline += 1
                    self.climb(moment, kind="escalated_overdue", actor=None)
                    t = moment
                    continue
                resolved = self.wait(t, due, share=0.05 + 0.9 * rng.random() ** 1.5)
                self.remind(t, resolved, due)
                if resolved > now:
                    return
                self.status, self.resolved_at, self.resolved_tier = "resolved", resolved, self.tier
                self.first_resolved_at = self.first_resolved_at or resolved
                self.event(resolved, self.handler(), "resolved", rng.choice(RESOLUTION_NOTES))
                t = resolved
            else:  # resolved: the reporter's answer, or the auto-confirmation 7 days on
                answer = _chance(rng, SECOND_ANSWER if self.reopen_count else FIRST_ANSWER)
                if answer == "auto":
                    moment = t + datetime.timedelta(days=7) + self.lag()
                    if moment > now:
                        return
                    self.status, self.closed_at, self.confirmation = "closed", moment, "auto"
                    self.event(moment, None, "auto_confirmed")
                    return
                moment = t + datetime.timedelta(hours=min(rng.expovariate(1 / 18), 160))
                if moment > now:
                    return
                comment = rng.choice(RATING_COMMENTS)
                if answer == "resolved":
                    self.status, self.closed_at, self.confirmation = "closed", moment, "resolved"
                    self.rating, self.rating_comment = _chance(rng, RATINGS), comment
                    self.event(moment, person, "confirmed", comment)
                    return
                if self.reopen_count:
                    self.status, self.closed_at, self.confirmation = "closed", moment, "not_resolved"
                    self.rating = rng.choice((1, 1, 2, None)) if rng.random() < 0.7 else None
                    self.rating_comment = comment
                    self.event(moment, person, "closed_unresolved", comment)
                    return
                self.status, self.reopen_count, self.reopened_at = "in_progress", 1, moment
                self.resolved_at, self.resolved_tier = None, ""
                self.event(moment, person, "reopened", comment)
                t = moment

    def state_at(self, moment) -> tuple[str, str]:
        """The status and tier at `moment`, from the timeline (kept in time order)."""
        status, tier = self.events[0][3], self.events[0][4]
        for at, _actor, _kind, status_after, tier_after, _note in self.events:
            if at > moment:
                break
            status, tier = status_after, tier_after
        return status, tier


def _event_time(event: tuple) -> datetime.datetime:
    return event[0]


def _matters_worker_init(database_url: str, seed: int, city: dict) -> None:
    _worker["conn"] = psycopg.connect(database_url)
    _worker["conn"].execute("SET synchronous_commit = off")
    _worker["seed"] = seed
    _city.update(city)


def load_users(task: tuple[int, int]) -> int:
    """Encrypts and copies generated accounts first_id ... first_id + count - 1 (handlers and reporters):
    mobile 170xxxxxxxx, no usable password (nobody signs in as them; the staff accounts are for that)."""
    from gongzhi.core.crypto import encrypt, lookup_hash, mask_phone
    from gongzhi.core.demo import fake_name
    from gongzhi.core.models import User

    first_id, count = task
    rng = random.Random(f"{_worker['seed']}:users:{first_id}")
    now, base = _city["now"], _city["first_user"]
    rows = []
    for user_id in range(first_id, first_id + count):
        number = f"170{((user_id - base) * 48271 + 12345) % 10**8:08d}"
        sex = rng.choice("MF")
        rows.append(
            (
                user_id,
                f"!{rng.getrandbits(160):040x}",  # unusable, like make_password(None)
                False,
                encrypt(number),
                lookup_hash(number),
                mask_phone(number),
                fake_name(rng, sex, rng.randint(1945, 2005)),
                "",
                True,
                False,
                now - datetime.timedelta(days=rng.uniform(366, 1500)),
                False,
            )
        )
    conn = _worker["conn"]
    copy_rows(
        conn,
        User,
        [
            "id",
            "password",
            "is_superuser",
            "mobile",
            "mobile_hash",
            "mobile_masked",
            "name",
            "email",
            "is_active",
            "is_staff",
            "date_joined",
            "large_text",
        ],
        rows,
    )
    conn.commit()
    return len(rows)


MATTER_COLUMNS = [
    "id", "token", "category", "description", "urgency", "is_private", "hide_name", "region",
    "community", "street", "district", "latitude", "longitude", "reporter", "entered_by", "on_behalf_of",
    "status", "entry_tier", "tier", "handling_region", "resolved_tier", "submitted_at", "response_due",
    "resolution_due", "tier_response_due", "tier_due", "first_response_at", "response_seconds",
    "resolved_at", "first_resolved_at", "closed_at", "confirmation", "rating", "rating_comment",
    "reopen_count", "reopened_at", "escalations_by_hand", "escalations_by_deadline", "deadline_reminded_at",
    "duplicate_of", "me_too_count",
]  # fmt: skip


def _spot(rng: random.Random, region_id: int) -> tuple[str, str]:
    """A point near the region's own spot in Chengdu (each compound has one, within about 15 km)."""
    here = random.Random(region_id)
    lat = CHENGDU[0] + here.uniform(-0.13, 0.13) + rng.uniform(-0.0015, 0.0015)
    lon = CHENGDU[1] + here.uniform(-0.16, 0.16) + rng.uniform(-0.0015, 0.0015)
    return f"{lat:.6f}", f"{lon:.6f}"


def load_matter_chunk(task: tuple[int, int, list[tuple[float, int]]]) -> tuple[int, int, int]:
    """Plays and copies the matters first_id, first_id + 1, ... reported at the given (time, community index),
    in time order, with their events and followers."""
    from gongzhi.matters.models import Event, Follower, Matter

    index, first_id, draws = task
    rng = random.Random(f"{_worker['seed']}:matters:{index}")
    now, tz, communities, handlers = _city["now"], _tz(), _city["communities"], _city["handlers"]
    categories, category_weights = _city["categories"], _city["category_weights"]
    matters, events, followers = [], [], []
    following: dict[int, set[int]] = {}  # matter -> its followers, for the unique (matter, user)
    originals: dict[tuple[int, int], list[int]] = {}  # (community, category) -> recent matters to be like
    for matter_id, (timestamp, c) in enumerate(draws, start=first_id):
        community = communities[c]
        submitted = datetime.datetime.fromtimestamp(timestamp, tz)
        category = rng.choices(categories, cum_weights=category_weights)[0]
        category_id, code, _class, first_tier, *_deadlines, private = category
        on_behalf_of = reporter = None
        roll = rng.random()
        if roll < P_ASSISTED:  # for a resident without an account, at their building
            on_behalf_of, b = rng.choice(community.heads)
            region, compound, place = community.buildings[b]
        elif roll < 0.85:
            region, compound, place = rng.choice(community.buildings)
        elif roll < 0.95:
            region, compound, place = rng.choice(community.compounds)
        else:
            region, compound, place = community.community_id, None, "社区"
        if on_behalf_of is None:
            reporter = community.first_reporter + rng.randrange(community.reporters)
            entered_by = reporter
        else:  # the compound leader, or the community worker
            entered_by = handlers[compound if rng.random() < 0.5 else community.community_id]
        play = MatterPlay(rng, now, category, compound, community, handlers)
        play.route(first_tier, submitted)
        entry_tier = play.tier
        response_due, resolution_due = play.tier_response_due, play.tier_due
        play.event(submitted, entered_by, "submitted")
        key = (community.community_id, category_id)
        play.play(submitted, person=entered_by, originals=originals.get(key, ()))
        people = following.setdefault(matter_id, set())
        if reporter is not None:
            people.add(reporter)
            followers.append((matter_id, reporter, False, submitted))
        if play.status == "duplicate":  # whoever followed it now follows the original
            original_people = following.setdefault(play.duplicate_of, set())
            if entered_by not in original_people:
                original_people.add(entered_by)
                followers.append((play.duplicate_of, entered_by, False, play.events[-1][0]))
        elif play.status != "withdrawn":
            recent = originals.setdefault(key, [])
            recent.append(matter_id)
            del recent[:-5]
        me_too = 0
        if not private and play.status not in ("duplicate", "withdrawn") and rng.random() < P_ME_TOO:
            latest = min(submitted + datetime.timedelta(days=10), now)
            span = (latest - submitted).total_seconds() - 600
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                user = community.first_reporter + rng.randrange(community.reporters)
                if span <= 0 or user in people:
                    continue
                moment = submitted + datetime.timedelta(seconds=600 + rng.uniform(0, span))
                people.add(user)
                followers.append((matter_id, user, True, moment))
                status, tier = play.state_at(moment)
                bisect.insort(play.events, (moment, user, "me_too", status, tier, ""), key=_event_time)
                me_too += 1
        latitude = longitude = None
        if rng.random() < P_COORDINATES:
            latitude, longitude = _spot(rng, compound or region)
        description = rng.choice(DESCRIPTIONS.get(code, DESCRIPTIONS["other"])).format(place=place)
        urgent = rng.random() < URGENT_SHARES.get(code, 0.03)
        matters.append(
            (
                matter_id,
                uuid.UUID(int=rng.getrandbits(128), version=4),
                category_id,
                description + rng.choice(DESCRIPTION_TAILS),
                "urgent" if urgent else "normal",
                private,
                rng.random() < P_HIDE_NAME,
                region,
                community.community_id,
                community.street_id,
                community.district_id,
                latitude,
                longitude,
                reporter,
                entered_by,
                on_behalf_of,
                play.status,
                entry_tier,
                play.tier,
                play.handling_region,
                play.resolved_tier,
                submitted,
                response_due,
                resolution_due,
                play.tier_response_due,
                play.tier_due,
                play.first_response_at,
                play.response_seconds,
                play.resolved_at,
                play.first_resolved_at,
                play.closed_at,
                play.confirmation,
                play.rating,
                play.rating_comment,
                play.reopen_count,
                play.reopened_at,
                play.escalations_by_hand,
                play.escalations_by_deadline,
                play.reminded_at,
                play.duplicate_of,
                me_too,
            )
        )
        events.extend((matter_id, *event) for event in play.events)
    conn = _worker["conn"]
    copy_rows(conn, Matter, MATTER_COLUMNS, matters)
    copy_rows(conn, Event, ["matter", "at", "actor", "kind", "status", "tier", "note"], events)
    copy_rows(conn, Follower, ["matter", "user", "me_too", "created_at"], followers)
    conn.commit()
    return len(matters), len(events), len(followers)


def draw_matters(args: argparse.Namespace, plans: list[CommunityPlan], now: datetime.datetime) -> list:
    """When and where each matter is reported: communities in proportion to their residents, days evenly
    over the year up to now, hours by HOUR_WEIGHTS; sorted by time, so that ids follow the reports."""
    rng = random.Random(f"{args.seed}:matter-draws")
    tz = now.tzinfo
    first_day = now.date() - datetime.timedelta(days=365)
    midnights = [
        datetime.datetime.combine(
            first_day + datetime.timedelta(days=d), datetime.time.min, tzinfo=tz
        ).timestamp()
        for d in range(366)
    ]
    latest = now.timestamp()
    residents = list(itertools.accumulate(sum(plan.household_sizes) for plan in plans))
    hours = list(itertools.accumulate(HOUR_WEIGHTS))
    where = rng.choices(range(len(plans)), cum_weights=residents, k=args.matters)
    hour = rng.choices(range(24), cum_weights=hours, k=args.matters)
    draws = []
    for c, h in zip(where, hour, strict=True):
        timestamp = rng.choice(midnights) + h * 3600 + rng.random() * 3600
        while timestamp > latest:  # later today than now: another day
            timestamp = rng.choice(midnights[:-1]) + h * 3600 + rng.random() * 3600
        draws.append((timestamp, c))
    draws.sort()
    return draws


def generate_matters(
    args: argparse.Namespace, tree: RegionTree, plans: list[CommunityPlan], staff_handlers: dict[int, int]
) -> dict:
    """Accounts for reporters and handlers, then the matters; returns the rows and seconds of each step."""
    from django.utils import timezone

    from gongzhi.core.models import RoleAssignment, User
    from gongzhi.matters.models import Category, Event, Follower, Matter

    started = time.monotonic()
    now = timezone.localtime()
    communities = matter_city(tree, plans)
    with psycopg.connect(args.database_url) as conn:
        first_user = conn.execute(f"SELECT max(id) + 1 FROM {User._meta.db_table}").fetchone()[0]
        categories = conn.execute(
            "SELECT id, code, category_class, first_tier, response_amount, response_unit, resolution_amount,"
            f" resolution_unit, is_private FROM {Category._meta.db_table}"
            " WHERE community_id IS NULL AND is_active ORDER BY position, code"
        ).fetchall()
    check_calendar(categories, now)

    # One handler per compound, community, street and district (the staff accounts where they hold it),
    # then each community's reporting accounts.
    handlers, assignments, next_user = dict(staff_handlers), [], first_user
    for row in tree.rows:
        region_id, level = row[0], row[2]
        if level in TIER_ROLES and region_id not in handlers:
            handlers[region_id] = next_user
            assignments.append((next_user, TIER_ROLES[level], region_id, now))
            next_user += 1
    for community, plan in zip(communities, plans, strict=True):
        community.first_reporter = next_user
        community.reporters = max(10, sum(plan.household_sizes) // RESIDENTS_PER_ACCOUNT)
        next_user += community.reporters
    users = next_user - first_user
    shares = [CATEGORY_SHARES.get(category[1], 0.02) for category in categories]
    city = {
        "now": now,
        "first_user": first_user,
        "communities": communities,
        "handlers": handlers,
        "categories": categories,
        "category_weights": list(itertools.accumulate(shares)),
    }
    print(
        f"Loading {users:,} accounts ({len(assignments):,} handlers) and {args.matters:,} matters "
        f"with {args.workers} processes ...",
        flush=True,
    )
    context = multiprocessing.get_context("fork")
    big_tables = [Matter._meta.db_table, Event._meta.db_table, Follower._meta.db_table]
    with context.Pool(args.workers, _matters_worker_init, (args.database_url, args.seed, city)) as pool:
        user_tasks = [
            (first, min(USER_CHUNK, next_user - first)) for first in range(first_user, next_user, USER_CHUNK)
        ]
        sum(pool.imap_unordered(load_users, user_tasks))
        with psycopg.connect(args.database_url) as conn:
            copy_rows(conn, RoleAssignment, ["user", "role", "region", "granted_at"], assignments)
            conn.commit()
            indexes, foreign_keys = detach_indexes(conn, big_tables)
        accounts = time.monotonic()

        draws = draw_matters(args, plans, now)
        tasks = [
            (k, first + 1, draws[first : first + MATTER_CHUNK])
            for k, first in enumerate(range(0, len(draws), MATTER_CHUNK))
        ]
        del draws
        drawn = time.monotonic()
        totals = [0, 0, 0]
        # In order, so that the heap lies in time order as a real table does (two chunks at a time).
        for done, counts in enumerate(pool.imap(load_matter_chunk, tasks), start=1):
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
            if done % max(1, len(tasks) // 10) == 0 or done == len(tasks):
                elapsed = time.monotonic() - drawn
                print(
                    f"  {done}/{len(tasks)} chunks, {totals[0]:,} matters, {totals[1]:,} events, "
                    f"{sum(totals) / elapsed:,.0f} rows/s",
                    flush=True,
                )
    loaded = time.monotonic()
    print(f"Rebuilding {len(indexes)} indexes and {len(foreign_keys)} foreign keys ...", flush=True)
    reattach_indexes(args.database_url, indexes, foreign_keys, args.workers)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        for model in (User, Matter):
            table = model._meta.db_table
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    indexed = time.monotonic()
    return {
        "rows": {
            "accounts": users,
            "handler_role_assignments": len(assignments),
            "matters": totals[0],
            "matter_events": totals[1],
            "matter_followers": totals[2],
        },
        "seconds": {
            "accounts": round(accounts - started, 1),
            "draws": round(drawn - accounts, 1),
            "copy": round(loaded - drawn, 1),
            "indexes_and_foreign_keys": round(indexed - loaded, 1),
            "total": round(indexed - started, 1),
        },
    }


# ---------------------------------------------------------------------------------------------------------


def create_staff(staff: dict) -> dict[int, int]:
    """The benchmark's staff accounts, through the ORM; returns {region id: user id} of the regions they hold,
    where they are the handlers of the generated matters."""
    from gongzhi.core.models import Region, RoleAssignment, User
    from gongzhi.core.roles import Role

    handlers = {}
    for mobile, name, role, region_key in (
        (benchenv.WORKER_MOBILE, "基准社区工作者", Role.COMMUNITY_WORKER, "community_id"),
        (benchenv.OFFICER_MOBILE, "基准街道干部", Role.STREET_OFFICER, "street_id"),
        (benchenv.DISTRICT_MOBILE, "基准区干部", Role.DISTRICT_OFFICER, "district_id"),
        (benchenv.COMPOUND_MOBILE, "基准院落长", Role.COMPOUND_LEADER, "compound_id"),
    ):
        user = User.objects.create_user(mobile, benchenv.PASSWORD, name=name)
        RoleAssignment.objects.create(user=user, role=role, region=Region.objects.get(pk=staff[region_key]))
        handlers[staff[region_key]] = user.pk
    return handlers


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from gongzhi.core.models import Household, Region, Resident, ResidentTag, RosterStamp

    started = time.monotonic()
    print(f"Recreating and migrating {urlsplit(args.database_url).path.lstrip('/')} ...", flush=True)
    recreate_database(args.database_url)
    migrate(env)
    migrated = time.monotonic()

    tree, plans, staff = plan_city(args)
    big_tables = [Household._meta.db_table, Resident._meta.db_table, ResidentTag._meta.db_table]
    with psycopg.connect(args.database_url) as conn:
        copy_rows(conn, Region, ["id", "name", "level", "parent", "path", "depth"], tree.rows)
        conn.commit()  # the region tree's deferred foreign-key checks run here, before any ALTER TABLE
        indexes, foreign_keys = detach_indexes(conn, big_tables)
        # The roster triggers (core migration 0004) would raise a community's version once per row loaded;
        # they are off for the load and each community's version is raised once afterwards.
        for table in big_tables:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        conn.commit()

    blocks = math.ceil(args.residents / identity_pairs())
    print(
        f"Loading {args.residents:,} residents in {args.communities} communities "
        f"with {args.workers} processes ...",
        flush=True,
    )
    totals = [0, 0, 0]
    context = multiprocessing.get_context("fork")
    with context.Pool(args.workers, _worker_init, (args.database_url, args.seed, blocks)) as pool:
        for done, counts in enumerate(pool.imap_unordered(load_community, plans), start=1):
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
            if done % max(1, len(plans) // 10) == 0 or done == len(plans):
                elapsed = time.monotonic() - migrated
                print(
                    f"  {done}/{len(plans)} communities, {totals[1]:,} residents, "
                    f"{totals[1] / elapsed:,.0f} residents/s",
                    flush=True,
                )
    loaded = time.monotonic()

    print(f"Rebuilding {len(indexes)} indexes and {len(foreign_keys)} foreign keys ...", flush=True)
    reattach_indexes(args.database_url, indexes, foreign_keys, args.workers)
    indexed = time.monotonic()

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        for table in big_tables:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        conn.execute(f"UPDATE {RosterStamp._meta.db_table} SET version = version + 1")
        for model in (Region, Household, Resident):
            table = model._meta.db_table
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    staff_handlers = create_staff(staff)
    connection.close()
    staffed = time.monotonic()
    matters = generate_matters(args, tree, plans, staff_handlers) if args.matters else None
    with_matters = time.monotonic()
    print("VACUUM ANALYZE ...", flush=True)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    finished = time.monotonic()

    rows = {
        "regions": len(tree.rows),
        "households": totals[0],
        "residents": totals[1],
        "resident_tags": totals[2],
        "users": len(staff_handlers),
        "role_assignments": len(staff_handlers),
    }
    if matters:
        rows.update(matters["rows"])
    total_rows = sum(rows.values())
    summary = {
        "rows": rows,
        "total_rows": total_rows,
        "seconds": {
            "create_and_migrate": round(migrated - started, 1),
            "copy_with_encryption": round(loaded - migrated, 1),
            "indexes_and_foreign_keys": round(indexed - loaded, 1),
            "matters": matters["seconds"] if matters else None,
            "vacuum_analyze_and_staff": round(finished - with_matters + staffed - indexed, 1),
            "total": round(finished - started, 1),
        },
        "rows_per_second": {
            "copy_phase": round((totals[0] + totals[1] + totals[2]) / (loaded - migrated)),
            "overall": round(total_rows / (finished - started)),
        },
        "staff": {
            **staff,
            "worker_mobile": benchenv.WORKER_MOBILE,
            "officer_mobile": benchenv.OFFICER_MOBILE,
            "district_mobile": benchenv.DISTRICT_MOBILE,
            "compound_mobile": benchenv.COMPOUND_MOBILE,
            "password": benchenv.PASSWORD,
        },
        "workers": args.workers,
    }
    if matters:
        matter_rows = sum(matters["rows"].values())
        summary["rows_per_second"]["matters_copy_phase"] = round(
            (matter_rows - matters["rows"]["accounts"] - matters["rows"]["handler_role_assignments"])
            / matters["seconds"]["copy"]
        )
        summary["rows_per_second"]["matters_overall"] = round(matter_rows / matters["seconds"]["total"])
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    (benchenv.OUT_DIR / "generate.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    print(
        f"\n{total_rows:,} rows in {finished - started:.1f} s "
        f"({total_rows / (finished - started):,.0f} rows/s)."
    )
    print(
        f"Community worker: {benchenv.WORKER_MOBILE} / {benchenv.PASSWORD} in {staff['community']} "
        f"(region {staff['community_id']}); street officer: {benchenv.OFFICER_MOBILE} / {benchenv.PASSWORD} "
        f"in {staff['street']} (region {staff['street_id']}); district officer: {benchenv.DISTRICT_MOBILE} "
        f"in {staff['district']} (region {staff['district_id']}); compound leader: "
        f"{benchenv.COMPOUND_MOBILE} in {staff['compound']} (region {staff['compound_id']})."
    )


if __name__ == "__main__":
    main()
