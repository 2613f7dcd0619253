"""Builds a city-scale roster on PostgreSQL for the load benchmark.

    .venv/bin/python bench/generate.py                                # 300 communities, 1,000,000 residents
    .venv/bin/python bench/generate.py --communities 5 --residents 20000   # a quick run

It (re)creates the database named in BENCH_DATABASE_URL (default gongzhi_bench; the name must contain
"bench", since it is dropped first), migrates it with `manage.py migrate`, and fills it:

- the region tree city -> districts -> streets -> communities -> grids -> compounds -> buildings, with paths
  and depths exactly as `gongzhi.core.services.region_create` makes them ("/<pk>/<pk>/", depth from 0);
- households and residents with valid GB 11643 ID numbers unique across the city, phone numbers, both
  encrypted with `gongzhi.core.crypto.encrypt`, with their lookup hashes and masked columns;
- resident tags (elderly, living alone, children, and a few of the sensitive groups);
- a community worker for one community and a street officer for its street (mobiles and password printed).

The big tables are loaded with COPY from one process per core, each encrypting and copying whole
communities; ids are assigned up front so that no process waits for another. Secondary indexes and
foreign keys of the big tables are dropped during the load and rebuilt afterwards from their own
definitions, so the schema ends exactly as migrated. VACUUM ANALYZE runs at the end.
"""

import argparse
import datetime
import json
import math
import multiprocessing
import os
import random
import subprocess
import sys
import time
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
    parser.add_argument("--database-url", default=benchenv.DATABASE_URL)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="processes encrypting and copying"
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.communities < 1 or args.residents < args.communities * 10:
        parser.error("need at least one community and ten residents per community")
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
    # The staff accounts work in the largest community (about 1.5 times the average) and its street.
    staff_community = staff_street = None
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


def create_staff(staff: dict) -> None:
    from gongzhi.core.models import Region, RoleAssignment, User
    from gongzhi.core.roles import Role

    worker = User.objects.create_user(benchenv.WORKER_MOBILE, benchenv.PASSWORD, name="基准社区工作者")
    RoleAssignment.objects.create(
        user=worker, role=Role.COMMUNITY_WORKER, region=Region.objects.get(pk=staff["community_id"])
    )
    officer = User.objects.create_user(benchenv.OFFICER_MOBILE, benchenv.PASSWORD, name="基准街道干部")
    RoleAssignment.objects.create(
        user=officer, role=Role.STREET_OFFICER, region=Region.objects.get(pk=staff["street_id"])
    )


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from gongzhi.core.models import Household, Region, Resident, ResidentTag

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
        for model in (Region, Household, Resident):
            table = model._meta.db_table
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    create_staff(staff)
    connection.close()
    print("VACUUM ANALYZE ...", flush=True)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    finished = time.monotonic()

    rows = {
        "regions": len(tree.rows),
        "households": totals[0],
        "residents": totals[1],
        "resident_tags": totals[2],
        "users": 2,
        "role_assignments": 2,
    }
    total_rows = sum(rows.values())
    summary = {
        "rows": rows,
        "total_rows": total_rows,
        "seconds": {
            "create_and_migrate": round(migrated - started, 1),
            "copy_with_encryption": round(loaded - migrated, 1),
            "indexes_and_foreign_keys": round(indexed - loaded, 1),
            "vacuum_analyze_and_staff": round(finished - indexed, 1),
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
            "password": benchenv.PASSWORD,
        },
        "workers": args.workers,
    }
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
        f"in {staff['street']} (region {staff['street_id']})."
    )


if __name__ == "__main__":
    main()
