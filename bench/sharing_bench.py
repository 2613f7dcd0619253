"""Sharing at city scale: a resource's week, booking creation, and 200 clients racing for the same slots.

    .venv/bin/python bench/sharing_generate.py            # first: 5,000 resources, 2,000,000 bookings
    .venv/bin/python bench/sharing_bench.py               # every scenario
    .venv/bin/python bench/sharing_bench.py week create   # some of them
    .venv/bin/python bench/sharing_bench.py race-exclusive race-pooled --clients 200 --duration 20

Scenarios, on the database bench/sharing_generate.py built (default gongzhi_bench_sharing):

- week: `selectors.week_availability(resource, monday)` for `--samples` random resources and random weeks
  of the generated span (history and horizon), one call at a time: p50/p95/p99, overall and by kind, and the
  queries it runs.
- page: the resource page `/sharing/<id>/?week=<monday>` and its HTMX week fragment (`HX-Target: week`),
  rendered in-process by Django's test client (the whole middleware stack, sessions in Redis, templates; no
  gunicorn and no network) for a resident of the resource's community, on random resources, this week or
  next. (For throughput through gunicorn, bench/load.py works on this database too: see bench/README.md.)
- create: `services.booking_create`, one client, on `--samples` random free slots: a random resource, a
  random day of its horizon from tomorrow, a free run of slots as long as its shortest booking (found with
  `week_availability`, not timed), booked by one of the community's residents who have no other bookings.
- race-exclusive, race-pooled: `--clients` clients (200, the first community's residents with no other
  bookings, one each) race for the same slots: each picks one of the hour-long slots from `--race-from`
  (18:00) of the next `--race-days` days (1) on the first community's activity rooms (exclusive) or gyms
  (30 places each) and books it, again and again, for `--duration` seconds. PostgreSQL here allows 100
  connections, shared with everyone else, so the clients reach the database as requests reach a server:
  through a pool of `--connections` workers, each with its own connection, spread over `--processes`
  processes (as gunicorn's workers would be); a client waits for a free worker, and its latency includes
  that wait. With enough connections (`--connections 200`), each client has a worker of its own. Reported:
  attempts/s and confirmed bookings/s (over the run, and until the last place went), latency, refusals by
  message; then checked: no two active bookings of an exclusive target overlap (buffer included), no pooled
  target ever holds more places than it has, and the bookings in the database are exactly those the
  clients were told were made.

The bookings a previous run made (request keys `<user>:bench-...`) are deleted first, so runs start from the
generated state. Figures are printed and saved to bench/out/sharing-bench-<time>.json.
"""

import argparse
import datetime
import json
import multiprocessing
import os
import queue
import random
import resource as rusage
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

import benchenv
import psycopg
from redeem import machine_jiffies, percentile, process_cpu_ms
from sharing_generate import DATABASE_URL, OVERFULL

SCENARIOS = ("week", "page", "create", "race-exclusive", "race-pooled")
RACE_KINDS = {"race-exclusive": "activity_room", "race-pooled": "gym"}
BENCH_KEY = "%:bench-%"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument(
        "--samples", type=int, default=1000, help="calls for week; a fifth of it for page/create"
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument(
        "--connections", type=int, default=0, help="race workers (default: what the server allows)"
    )
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20, help="seconds of each race")
    parser.add_argument("--race-days", type=int, default=1, help="days of slots the clients race for")
    parser.add_argument("--race-from", default="18:00", help="the slots raced for start from this time")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    args.scenarios = args.scenarios or list(SCENARIOS)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    return args


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 0.50), 2) if ms else None,
        "p95_ms": round(percentile(ms, 0.95), 2) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
        "max_ms": round(max(ms), 2) if ms else None,
    }


class CpuMeter:
    """CPU of this process and of its PostgreSQL backend, summed over the timed calls (ms per call): unlike
    the latencies, these do not depend on what else the machine runs."""

    def __init__(self):
        self.client_ms = self.db_ms = 0.0
        self.calls = 0

    def __enter__(self):
        from django.db import connection

        connection.ensure_connection()
        self.backend = connection.connection.info.backend_pid
        self.client_before, self.db_before = time.process_time(), process_cpu_ms(self.backend)

    def __exit__(self, *_exc):
        self.client_ms += (time.process_time() - self.client_before) * 1000
        self.db_ms += process_cpu_ms(self.backend) - self.db_before
        self.calls += 1

    def per_call(self) -> dict:
        calls = max(1, self.calls)
        return {"client_cpu_ms": round(self.client_ms / calls, 2), "db_cpu_ms": round(self.db_ms / calls, 2)}


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def span() -> tuple[datetime.date, datetime.date]:
    """The Mondays of the first and last weeks holding generated bookings."""
    from django.db.models import Max, Min

    from gongzhi.sharing import rules
    from gongzhi.sharing.models import Booking

    bounds = Booking.objects.aggregate(first=Min("starts_at"), last=Max("starts_at"))
    return rules.week_start(rules.local_day(bounds["first"])), rules.week_start(
        rules.local_day(bounds["last"])
    )


# ---------------------------------------------------------------------------------------------------------
# One call at a time


def bench_week(args, rng: random.Random) -> dict:
    from django.db import connection

    from gongzhi.sharing import selectors
    from gongzhi.sharing.models import Resource

    first, last = span()
    weeks = (last - first).days // 7 + 1
    ids = list(Resource.objects.values_list("pk", flat=True))
    by_kind: dict[str, list[float]] = {}
    queries, slots, meter = Counter(), [], CpuMeter()
    for _k in range(args.samples):
        resource = Resource.objects.get(pk=rng.choice(ids))
        monday = first + datetime.timedelta(weeks=rng.randrange(weeks))
        counter = QueryCounter()
        with connection.execute_wrapper(counter), meter:
            began = time.perf_counter()
            days = selectors.week_availability(resource, monday)
            elapsed = (time.perf_counter() - began) * 1000
        by_kind.setdefault(resource.kind, []).append(elapsed)
        queries[counter.count] += 1
        slots.append(sum(len(day.slots) for day in days))
    everything = [ms for values in by_kind.values() for ms in values]
    return {
        "scenario": "week",
        "weeks": f"{first} .. {last}",
        **summary(everything),
        **meter.per_call(),
        "by_kind": {kind: summary(values) for kind, values in sorted(by_kind.items())},
        "queries": dict(queries),
        "slots_per_week_mean": round(statistics.fmean(slots), 1),
    }


def bench_page(args, rng: random.Random, env: dict) -> dict:
    from django.test import Client
    from django.utils import timezone

    from gongzhi.core.models import Resident
    from gongzhi.sharing import rules
    from gongzhi.sharing.models import Resource

    subprocess.run(
        [str(benchenv.PYTHON), "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=benchenv.ROOT,
        env=env,
        check=True,
    )
    this_monday = rules.week_start(timezone.localdate())
    ids = list(Resource.objects.values_list("pk", "community_id"))
    clients: dict[int, Client] = {}
    pages, fragments, statuses = [], [], Counter()
    meters = {"page": CpuMeter(), "fragment": CpuMeter()}
    for _k in range(max(1, args.samples // 5)):
        resource_id, community_id = rng.choice(ids)
        if community_id not in clients:
            resident = Resident.objects.filter(community_id=community_id, user__isnull=False).first()
            client = Client(HTTP_HOST="127.0.0.1")
            client.force_login(resident.user)
            clients[community_id] = client
        client = clients[community_id]
        path = f"/sharing/{resource_id}/?week={this_monday + datetime.timedelta(weeks=rng.randrange(2))}"
        for name, headers, into in (
            ("page", {}, pages),
            ("fragment", {"HX-Request": "true", "HX-Target": "week"}, fragments),
        ):
            with meters[name]:
                began = time.perf_counter()
                response = client.get(path, headers=headers)
                into.append((time.perf_counter() - began) * 1000)
            statuses[response.status_code] += 1
    return {
        "scenario": "page",
        "page": {**summary(pages), **meters["page"].per_call()},
        "fragment": {**summary(fragments), **meters["fragment"].per_call()},
        "statuses": dict(statuses),
        **summary(pages),
    }


def free_runs(resource, day: datetime.date, minutes: int, now: datetime.datetime) -> list[tuple]:
    """(start, end) of every free run of slots on `day` as long as `minutes`, by week_availability."""
    from gongzhi.sharing import rules, selectors

    (week_day,) = [
        d for d in selectors.week_availability(resource, rules.week_start(day), now=now) if d.day == day
    ]
    slots = week_day.slots
    length = -(-minutes // resource.slot_minutes)
    runs = []
    for k in range(len(slots) - length + 1):
        run = slots[k : k + length]
        if all(slot.bookable for slot in run) and all(
            a.ends_at == b.starts_at for a, b in zip(run, run[1:], strict=False)
        ):
            runs.append((run[0].starts_at, run[-1].ends_at))
    return runs


def bench_create(args, rng: random.Random) -> dict:
    from django.db import connection
    from django.utils import timezone

    from gongzhi.core.exceptions import ServiceError
    from gongzhi.core.models import User
    from gongzhi.sharing import services
    from gongzhi.sharing.models import Resource

    idle = idle_residents()
    resources = list(Resource.objects.exclude(community_id=race_community()))
    latencies, by_kind, refused, queries, meter = [], {}, Counter(), Counter(), CpuMeter()
    tried = 0
    while len(latencies) + sum(refused.values()) < max(1, args.samples // 5) and tried < args.samples * 10:
        tried += 1
        resource = rng.choice(resources)
        now = timezone.now()
        day = timezone.localdate(now) + datetime.timedelta(
            days=rng.randint(1, min(7, resource.book_ahead_days))
        )
        runs = free_runs(resource, day, resource.min_minutes, now)
        if not runs:
            continue
        start, end = rng.choice(runs)
        user = User(pk=rng.choice(idle[resource.community_id]))
        plate = "川A" + "".join(rng.choice("0123456789") for _k in range(5)) if resource.needs_plate else ""
        counter = QueryCounter()
        with connection.execute_wrapper(counter), meter:
            began = time.perf_counter()
            try:
                services.booking_create(
                    resource=resource,
                    by=user,
                    starts_at=start,
                    ends_at=end,
                    request_token=f"bench-create-{uuid.uuid4().hex[:16]}",
                    plate=plate,
                )
            except ServiceError as error:
                refused[str(error.message)] += 1
                continue
            elapsed = (time.perf_counter() - began) * 1000
        latencies.append(elapsed)
        by_kind.setdefault(resource.kind, []).append(elapsed)
        queries[counter.count] += 1
    return {
        "scenario": "create",
        **summary(latencies),
        **meter.per_call(),
        "by_kind": {kind: summary(values) for kind, values in sorted(by_kind.items())},
        "refused": dict(refused),
        "queries": dict(queries),
    }


def race_community() -> int:
    from gongzhi.core.models import RoleAssignment, User

    worker = User.objects.get_by_natural_key(benchenv.WORKER_MOBILE)
    return RoleAssignment.objects.get(user=worker, role="community_worker").region_id


def idle_residents() -> dict[int, list[int]]:
    """Each community's residents with an account and no booking the generator made."""
    from django.db.models import Exists, OuterRef

    from gongzhi.core.models import Resident
    from gongzhi.sharing.models import Booking

    generated = Booking.objects.filter(resident=OuterRef("pk")).exclude(request_key__contains=":bench-")
    idle: dict[int, list[int]] = {}
    for community_id, user_id in (
        Resident.objects.filter(user__isnull=False)
        .exclude(Exists(generated))
        .order_by("pk")
        .values_list("community_id", "user_id")
    ):
        idle.setdefault(community_id, []).append(user_id)
    return idle


# ---------------------------------------------------------------------------------------------------------
# The race


class Attempt:
    def __init__(self, resource, user_id: int, start, end):
        self.resource, self.user_id, self.start, self.end = resource, user_id, start, end
        self.done = threading.Event()
        self.outcome: str = ""
        self.booking_id: int | None = None

    def run(self) -> None:
        from django.db import connection

        from gongzhi.core.exceptions import ServiceError
        from gongzhi.core.models import User
        from gongzhi.sharing import services

        try:
            booking = services.booking_create(
                resource=self.resource,
                by=User(pk=self.user_id),
                starts_at=self.start,
                ends_at=self.end,
                request_token=f"bench-race-{uuid.uuid4().hex[:16]}",
            )
            self.outcome, self.booking_id = f"booked ({booking.status})", booking.pk
        except ServiceError as error:
            self.outcome = str(error.message)
        except Exception as error:
            self.outcome = f"ERROR {type(error).__name__}: {error}"
            connection.close()
        finally:
            self.done.set()


def race_process(spec: dict) -> dict:
    """In a client process: `workers` threads with a connection each serve the attempts of `clients`
    threads, from `start` until `stop`."""
    from django.db import connection, connections
    from django.utils import translation

    from gongzhi.sharing.models import Resource

    connection.close()  # not shared with the parent after fork
    resources = {resource.pk: resource for resource in Resource.objects.filter(pk__in=spec["resources"])}
    connection.close()
    jobs: queue.Queue = queue.Queue()
    lock = threading.Lock()
    outcomes: list[tuple[float, float, str, int | None]] = []  # (submitted, latency s, outcome, booking)
    db_ms = [0.0]

    def serve() -> None:
        try:
            with translation.override("en"):
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    backend = cursor.fetchone()[0]
                before = process_cpu_ms(backend)
                while (attempt := jobs.get()) is not None:
                    attempt.run()
                used = process_cpu_ms(backend) - before
        finally:
            connections.close_all()
        with lock:
            db_ms[0] += used

    def client(user_id: int, seed: int) -> None:
        rng = random.Random(seed)
        mine = []
        time.sleep(max(0.0, spec["start"] - time.time()))
        while (submitted := time.time()) < spec["stop"]:
            resource_id, start, end = rng.choice(spec["slots"])
            attempt = Attempt(resources[resource_id], user_id, start, end)
            began = time.perf_counter()
            jobs.put(attempt)
            attempt.done.wait()
            mine.append((submitted, time.perf_counter() - began, attempt.outcome, attempt.booking_id))
        with lock:
            outcomes.extend(mine)

    workers = [threading.Thread(target=serve) for _k in range(spec["workers"])]
    clients = [
        threading.Thread(target=client, args=(user_id, spec["seed"] + k))
        for k, user_id in enumerate(spec["clients"])
    ]
    for thread in workers + clients:
        thread.start()
    time.sleep(max(0.0, spec["start"] - time.time()))
    own_before = rusage.getrusage(rusage.RUSAGE_SELF)
    for thread in clients:
        thread.join()
    for _worker in workers:
        jobs.put(None)
    for thread in workers:
        thread.join()
    own_after = rusage.getrusage(rusage.RUSAGE_SELF)
    return {
        "outcomes": outcomes,
        "finished": time.time(),
        "client_ms": 1000
        * (own_after.ru_utime + own_after.ru_stime - own_before.ru_utime - own_before.ru_stime),
        "db_ms": db_ms[0],
    }


def connections_free(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        limit = int(conn.execute("SHOW max_connections").fetchone()[0])
        reserved = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
        used = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        ).fetchone()[0]
    return limit - reserved - used


def race_slots(
    targets, days: list[datetime.date], after: datetime.time, now: datetime.datetime
) -> list[tuple]:
    """Every hour-long booking on the slot grid of the targets' opening hours on these days, from `after`,
    within each target's booking horizon."""
    from gongzhi.sharing import rules, services

    slots = []
    for resource in targets:
        hour = datetime.timedelta(minutes=max(60, resource.min_minutes))
        step = datetime.timedelta(minutes=resource.slot_minutes)
        horizon = now + datetime.timedelta(days=resource.book_ahead_days)
        for start, end in rules.open_periods(services.hours_of(resource), days[0], days[-1]):
            moment = start
            while moment + hour <= end:
                if rules.local_day(moment) in days and timezone_time(moment) >= after and moment <= horizon:
                    slots.append((resource.pk, moment, moment + hour))
                moment += step
    return slots


def timezone_time(moment: datetime.datetime) -> datetime.time:
    from django.utils import timezone

    return timezone.localtime(moment).time()


def places_free(targets, slots, now) -> int:
    """How many places the slots have free right now, each on its own: for an exclusive resource, the slots
    that could be booked; for a pooled one, the places left over the whole slot."""
    from gongzhi.sharing import rules, selectors

    free = 0
    for resource in targets:
        weeks = {rules.week_start(rules.local_day(start)) for rid, start, _end in slots if rid == resource.pk}
        grid = {
            slot.starts_at: slot.places_left if slot.bookable else 0
            for monday in weeks
            for day in selectors.week_availability(resource, monday, now=now)
            for slot in day.slots
        }
        step = datetime.timedelta(minutes=resource.slot_minutes)
        for rid, start, end in slots:
            if rid == resource.pk:
                free += min(grid.get(start + k * step, 0) for k in range((end - start) // step))
    return free


def bench_race(args, name: str, rng: random.Random) -> dict:
    from django.db import connection
    from django.utils import timezone

    from gongzhi.sharing.models import ACTIVE, Booking, Resource

    community = race_community()
    targets = list(Resource.objects.filter(community_id=community, kind=RACE_KINDS[name]).order_by("pk"))
    clients = idle_residents()[community][: args.clients]
    if len(clients) < args.clients:
        raise SystemExit(
            f"{args.clients} clients asked, the race community has {len(clients)} idle residents."
        )
    now = timezone.now()
    tomorrow = timezone.localdate(now) + datetime.timedelta(days=1)
    days = [tomorrow + datetime.timedelta(days=k) for k in range(args.race_days)]
    slots = race_slots(targets, days, datetime.time.fromisoformat(args.race_from), now)
    free_before = places_free(targets, slots, now)
    wanted = args.connections or max(1, min(args.clients, connections_free(args.database_url) - 10))
    processes = max(1, min(args.processes, wanted))
    workers = [wanted // processes + (k < wanted % processes) for k in range(processes)]
    connection.close()

    start = time.time() + 3.0  # every process forked and connected before the clients start
    stop = start + args.duration
    specs = [
        {
            "resources": [resource.pk for resource in targets],
            "slots": slots,
            "clients": clients[k::processes],
            "workers": workers[k],
            "start": start,
            "stop": stop,
            "seed": args.seed * 1000 + k * len(clients),
        }
        for k in range(processes)
    ]
    print(
        f"{name}: {args.clients} clients, {sum(workers)} connections in {processes} processes, "
        f"{len(targets)} {RACE_KINDS[name]}s, {len(slots)} hour-long slots from {args.race_from} over "
        f"{args.race_days} day(s) ({free_before} places free), {args.duration:.0f} s ...",
        flush=True,
    )
    busy_before = machine_jiffies()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.map(race_process, specs))
    busy_after = machine_jiffies()
    outcomes = [outcome for result in results for outcome in result["outcomes"]]
    elapsed = max(result["finished"] for result in results) - start
    booked = [o for o in outcomes if o[2].startswith("booked")]
    ms = [latency * 1000 for _submitted, latency, _outcome, _booking in outcomes]
    booked_ms = [latency * 1000 for _submitted, latency, _outcome, _booking in booked]
    # The moment the last booking was made: after it, the clients only met full slots.
    last_booked = max((submitted - start for submitted, _l, _o, _b in booked), default=0.0)

    problems = []
    errors = Counter(o[2] for o in outcomes if o[2].startswith("ERROR"))
    problems += [f"{count} x {message}" for message, count in errors.items()]
    made = Booking.objects.filter(resource__in=targets, request_key__contains=":bench-race-")
    stored = set(made.filter(status__in=ACTIVE).values_list("pk", flat=True))
    told = {booking for _s, _l, _o, booking in booked}
    if stored != told:
        problems.append(
            f"{len(told)} bookings reported, {len(stored)} active in the database "
            f"({len(told - stored)} missing, {len(stored - told)} unreported)"
        )
    with psycopg.connect(args.database_url) as conn:
        overlaps = conn.execute(
            """SELECT count(*) FROM sharing_booking a JOIN sharing_booking b
                 ON a.resource_id = b.resource_id AND a.id < b.id
                AND tstzrange(a.starts_at, a.blocked_until, '[)')
                    && tstzrange(b.starts_at, b.blocked_until, '[)')
              WHERE a.exclusive AND a.resource_id = ANY(%(ids)s)
                AND a.status IN ('pending', 'confirmed', 'checked_in')
                AND b.status IN ('pending', 'confirmed', 'checked_in')""",
            {"ids": [resource.pk for resource in targets]},
        ).fetchone()[0]
        overfull = [
            row
            for row in conn.execute(OVERFULL).fetchall()
            if row[0] in {resource.pk for resource in targets}
        ]
    if overlaps:
        problems.append(f"{overlaps} pairs of overlapping active bookings")
    if overfull:
        problems.append(f"pooled resources over capacity: {overfull}")
    free_after = places_free(targets, slots, timezone.now())
    return {
        "scenario": name,
        "clients": args.clients,
        "connections": sum(workers),
        "processes": processes,
        "targets": len(targets),
        "capacity": sorted({resource.capacity for resource in targets}),
        "slots": len(slots),
        "free_before": free_before,
        "free_after": free_after,
        "attempts": len(outcomes),
        "confirmed": len(booked),
        "seconds": round(elapsed, 1),
        "attempts_per_second": round(len(outcomes) / elapsed, 1),
        "confirmed_per_second": round(len(booked) / elapsed, 1),
        "last_booking_s": round(last_booked, 1),
        "confirmed_per_second_until_last": round(len(booked) / last_booked, 1) if last_booked else None,
        **summary(ms),
        "booked_p50_ms": round(percentile(booked_ms, 0.5), 1) if booked_ms else None,
        "booked_p95_ms": round(percentile(booked_ms, 0.95), 1) if booked_ms else None,
        "outcomes": dict(Counter(o[2] for o in outcomes)),
        "client_cpu_ms": round(sum(r["client_ms"] for r in results) / max(1, len(outcomes)), 2),
        "db_cpu_ms": round(sum(r["db_ms"] for r in results) / max(1, len(outcomes)), 2),
        "machine_busy": round((busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]), 2),
        "load_average": round(os.getloadavg()[0], 1),
        "problems": problems,
    }


# ---------------------------------------------------------------------------------------------------------


def forget_previous_runs(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        deleted = conn.execute("DELETE FROM sharing_booking WHERE request_key LIKE %s", [BENCH_KEY]).rowcount
        conn.commit()
    return deleted


def report(runs: list[dict]) -> None:
    singles = [row for row in runs if not row["scenario"].startswith("race")]
    if singles:
        print(
            "\n| scenario | calls | p50 ms | p95 ms | p99 ms | mean ms | max ms | client CPU ms | DB CPU ms |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in singles:
            parts = (
                [("", row)]
                if row["scenario"] != "page"
                else [(" page", row["page"]), (" fragment", row["fragment"])]
            )
            for suffix, figures in parts:
                keys = ("n", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms", "client_cpu_ms", "db_cpu_ms")
                cells = [figures[key] for key in keys]
                print(f"| {row['scenario']}{suffix} | " + " | ".join(map(str, cells)) + " |")
        for row in singles:
            if "by_kind" in row:
                print(f"\n{row['scenario']} by kind (p50 / p95 ms, calls):")
                for kind, figures in row["by_kind"].items():
                    print(f"  {kind:14} {figures['p50_ms']:>8} / {figures['p95_ms']:<8} {figures['n']}")
            if row.get("queries"):
                print(f"  queries per call: {row['queries']}")
            if row.get("refused"):
                print(f"  refused: {row['refused']}")
            if row.get("statuses"):
                print(f"  HTTP statuses: {row['statuses']}")
    races = [row for row in runs if row["scenario"].startswith("race")]
    if races:
        print(
            "\n| race | clients | connections | slots (places free before → after) | attempts/s "
            "| confirmed/s (until the last) | confirmed | last booking at s | p50 ms | p95 ms | p99 ms "
            "| client CPU ms | DB CPU ms | machine busy |"
        )
        print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in races:
            print(
                f"| {row['scenario']} | {row['clients']} | {row['connections']} | "
                f"{row['slots']} ({row['free_before']} → {row['free_after']}) | "
                f"{row['attempts_per_second']} | "
                f"{row['confirmed_per_second']} ({row['confirmed_per_second_until_last']}) | "
                f"{row['confirmed']} | {row['last_booking_s']} | "
                f"{row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {row['client_cpu_ms']} | "
                f"{row['db_cpu_ms']} | {row['machine_busy']:.0%} |"
            )
        for row in races:
            print(f"\n{row['scenario']}: outcomes {row['outcomes']}")
            for problem in row["problems"]:
                print(f"  PROBLEM: {problem}")
            if not row["problems"]:
                print(
                    "  checked: no overlapping active bookings, no pooled target over capacity, the database "
                    "holds exactly the bookings the clients were told were made"
                )


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.utils import translation

    translation.activate("en")
    load_before = os.getloadavg()
    if load_before[0] > 1.0:
        print(f"Warning: the load average is {load_before[0]:.1f} before the run; other work will skew it.")
    name = urlsplit(args.database_url).path.lstrip("/")
    deleted = forget_previous_runs(args.database_url)
    print(f"{name}: {deleted} bookings of earlier runs deleted", flush=True)
    rng = random.Random(args.seed)
    runs = []
    for scenario in args.scenarios:
        print(f"{scenario} ...", flush=True)
        if scenario == "week":
            runs.append(bench_week(args, rng))
        elif scenario == "page":
            runs.append(bench_page(args, rng, env))
        elif scenario == "create":
            runs.append(bench_create(args, rng))
        else:
            runs.append(bench_race(args, scenario, rng))
    report(runs)
    saved = {
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "database": name,
        "load_average_before": [round(value, 2) for value in load_before],
        "args": {key: value for key, value in vars(args).items() if key != "database_url"},
        "runs": runs,
    }
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    out = benchenv.OUT_DIR / f"sharing-bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(saved, ensure_ascii=False, indent=2, default=str))
    print(f"\nSaved to {out.relative_to(benchenv.ROOT)}")
    if any(row.get("problems") for row in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
