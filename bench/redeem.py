"""Redemptions per second through `services.redemption_create`, with clients racing for one item or spread.

    .venv/bin/python bench/redeem.py                          # every scenario, 16 clients, 20 s each
    .venv/bin/python bench/redeem.py --clients 16 --duration 10 contention spread

Run bench/generate.py and bench/generate_ledger.py first (the latter makes the outlets and items). Each
client has its own database connection and, by default, its own process, as each gunicorn sync worker
does (`--processes 2` puts them in threads of two processes instead; Python's lock then lengthens the
time a thread holds its row locks). Every client redeems 1 point at a time for residents of its own (no two
clients share a passbook, so the only shared rows are the ones the scenario means), with a fresh request
token each time, as the shop page would. Scenarios:

- contention: every client redeems the same item (its row lock is taken by each redemption);
- spread: each client a different item of the same community's outlet (the items differ, but every
  redemption also credits the community's one "redeemed" account, whose row lock they share);
- spread-communities: each client an item in a different community (no row in common).

For each: redemptions per second, p50/p95/p99 latency, refusals; afterwards every item's stock fell by
exactly the redemptions made, every community's redeemed account rose by exactly their points, and
`selectors.ledger_drift()` (the whole ledger recomputed from its entries: the points_reconcile check) finds
nothing. Figures are printed and saved to bench/out/redeem-<time>.json.
"""

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import benchenv

SCENARIOS = ("contention", "spread", "spread-communities")
MEDIANS = ("per_second", "p50_ms", "p95_ms", "p99_ms")
MIN_BALANCE = 100  # residents whose passbook can pay for a run of 1-point redemptions


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--processes", type=int, default=0, help="client processes (default: one per client)")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each")
    parser.add_argument("--single", type=float, default=5, help="seconds with one client (0 to skip)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of all the scenarios, interleaved; medians are printed"
    )
    parser.add_argument("--database-url", default=benchenv.DATABASE_URL)
    args = parser.parse_args()
    args.scenarios = args.scenarios or list(SCENARIOS)
    args.processes = args.processes or args.clients
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    return args


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# ---------------------------------------------------------------------------------------------------------
# The clients


def run_clients(assignments: list[tuple[int, list[int]]], start: float, warmup: float, duration: float):
    """In a client process: one thread per (item id, resident ids), redeeming from `start` until
    `start + warmup + duration`; returns the latencies (s) and refusals of the measured part (after the
    warm-up) and the ids of every redemption made, warm-up included, for the checks."""
    from django.db import connection, connections
    from django.utils import translation

    from gongzhi.core.exceptions import ServiceError
    from gongzhi.core.models import Resident
    from gongzhi.volunteering import services
    from gongzhi.volunteering.models import Item

    connection.close()  # not shared with the parent after fork
    latencies: list[float] = []
    refusals: Counter = Counter()
    made: list[int] = []
    db_ms = [0.0]
    lock = threading.Lock()
    measure_from, stop = start + warmup, start + warmup + duration

    def client(item_id: int, resident_ids: list[int]) -> None:
        mine, refused, ids = [], Counter(), []
        db_before, used = None, 0.0
        try:
            with translation.override("en"):
                item = Item.objects.get(pk=item_id)
                residents = list(Resident.objects.filter(pk__in=resident_ids).only("id", "community_id"))
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    backend = cursor.fetchone()[0]
                time.sleep(max(0.0, start - time.time()))
                n = 0
                while (now := time.time()) < stop:
                    if db_before is None and now >= measure_from:
                        db_before = process_cpu_ms(backend)
                    resident = residents[n % len(residents)]
                    n += 1
                    began = time.perf_counter()
                    try:
                        redemption = services.redemption_create(
                            item=item, resident=resident, request_token=uuid.uuid4().hex
                        )
                    except ServiceError as error:
                        if now >= measure_from:
                            refused[str(error)] += 1
                        continue
                    ids.append(redemption.pk)
                    if now >= measure_from:
                        mine.append(time.perf_counter() - began)
                if db_before is not None:
                    used = process_cpu_ms(backend) - db_before
        finally:
            connections.close_all()
        with lock:
            latencies.extend(mine)
            refusals.update(refused)
            made.extend(ids)
            db_ms[0] += used

    threads = [threading.Thread(target=client, args=assignment) for assignment in assignments]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.time()))
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    for thread in threads:
        thread.join()
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    client_ms = 1000 * (own_after.ru_utime + own_after.ru_stime - own_before.ru_utime - own_before.ru_stime)
    return latencies, refusals, made, client_ms, db_ms[0]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_ms(pid: int) -> float:
    """User + system CPU of a process (here: a PostgreSQL backend on this machine), in ms."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICKS


def machine_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        jiffies = [int(value) for value in stat.readline().split()[1:]]
    return sum(jiffies) - jiffies[3] - jiffies[4], sum(jiffies)


def run(args, name: str, assignments: list[tuple[int, list[int]]], clients: int, duration: float) -> dict:
    from django.db import connection

    connection.close()
    groups = [assignments[k :: args.processes] for k in range(min(args.processes, clients))]
    start = time.time() + 2.0  # every process forked and connected before the clients start
    busy_before = machine_jiffies()
    with ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(run_clients, group, start, args.warmup, duration) for group in groups]
        results = [future.result() for future in futures]
    busy_after = machine_jiffies()
    latencies = [value for result in results for value in result[0]]
    refusals = sum((result[1] for result in results), Counter())
    made = [pk for result in results for pk in result[2]]
    ms = [value * 1000 for value in latencies]
    return {
        "scenario": name,
        "clients": clients,
        "items": len({item for item, _residents in assignments}),
        "redemptions": len(ms),
        "per_second": round(len(ms) / duration, 1),
        "p50_ms": round(percentile(ms, 0.50), 1) if ms else None,
        "p95_ms": round(percentile(ms, 0.95), 1) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 1) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
        "refused": dict(refusals),
        "load_average": round(os.getloadavg()[0], 1),
        # CPU per redemption of the client processes (Django and the service) and of their PostgreSQL
        # backends: unlike the rates, these do not depend on what else the machine runs.
        "client_cpu_ms": round(sum(result[3] for result in results) / max(1, len(ms)), 2),
        "db_cpu_ms": round(sum(result[4] for result in results) / max(1, len(ms)), 2),
        "machine_busy": round((busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]), 2),
        "_made": made,
    }


# ---------------------------------------------------------------------------------------------------------
# Scenarios, and the checks afterwards


def plan(args, scenario: str, clients: int) -> list[tuple[int, list[int]]]:
    """(item id, resident ids) for each client."""
    from django.db.models import Count

    from gongzhi.core.models import RoleAssignment, User
    from gongzhi.volunteering.models import AccountKind, Item, PointsAccount

    worker = User.objects.get_by_natural_key(benchenv.WORKER_MOBILE)
    staff_community = RoleAssignment.objects.get(user=worker, role="community_worker").region_id
    try:
        bench_resident = User.objects.get_by_natural_key(benchenv.RESIDENT_MOBILE).resident.pk
    except User.DoesNotExist:
        bench_resident = None
    if scenario == "spread-communities":
        # The communities with most payers, one item each.
        communities = list(
            PointsAccount.objects.filter(kind=AccountKind.RESIDENT, balance__gte=MIN_BALANCE)
            .values("community_id")
            .annotate(payers=Count("id"))
            .order_by("-payers", "community_id")
            .values_list("community_id", flat=True)[:clients]
        )
        if len(communities) < clients:
            raise SystemExit(f"spread-communities needs {clients} communities with payers; there are fewer.")
        items = [Item.objects.filter(outlet__community_id=c).order_by("pk").first() for c in communities]
    else:
        outlet_items = list(Item.objects.filter(outlet__community_id=staff_community).order_by("pk"))
        if not outlet_items:
            raise SystemExit("No items: run bench/generate_ledger.py first.")
        if scenario == "contention":
            items = [outlet_items[0]] * clients
        else:
            if len(outlet_items) < clients:
                raise SystemExit(
                    f"spread needs {clients} items in the staff community; it has {len(outlet_items)}."
                )
            items = outlet_items[:clients]
    by_community: dict[int, list[int]] = {}
    for item in items:
        community = item.outlet.community_id
        if community not in by_community:
            by_community[community] = list(
                PointsAccount.objects.filter(
                    kind=AccountKind.RESIDENT, community_id=community, balance__gte=MIN_BALANCE
                )
                .exclude(resident_id=bench_resident)
                .order_by("resident_id")
                .values_list("resident_id", flat=True)
            )
    sharing = Counter(item.outlet.community_id for item in items)
    seen: Counter = Counter()
    assignments = []
    for item in items:
        community = item.outlet.community_id
        k, n = seen[community], sharing[community]
        seen[community] += 1
        residents = by_community[community][k::n]  # disjoint between the clients of a community
        if not residents:
            raise SystemExit(f"No resident with {MIN_BALANCE}+ points left for client {k} in {community}.")
        assignments.append((item.pk, residents))
    return assignments


def snapshot(item_ids: set[int]) -> dict:
    from gongzhi.volunteering.models import AccountKind, Item, PointsAccount

    items = dict(Item.objects.filter(pk__in=item_ids).values_list("pk", "stock"))
    communities = set(Item.objects.filter(pk__in=item_ids).values_list("outlet__community_id", flat=True))
    redeemed = dict(
        PointsAccount.objects.filter(kind=AccountKind.REDEEMED, community_id__in=communities).values_list(
            "community_id", "balance"
        )
    )
    return {"stock": items, "redeemed": redeemed}


def check(before: dict, after: dict, made: list[int]) -> list[str]:
    """Stock and the redeemed accounts moved by exactly what the redemptions made say."""
    from django.db.models import Sum

    from gongzhi.volunteering.models import Redemption

    problems = []
    rows = Redemption.objects.filter(pk__in=made)
    by_item = dict(rows.values("item_id").annotate(q=Sum("quantity")).values_list("item_id", "q"))
    by_community = dict(
        rows.values("item__outlet__community_id")
        .annotate(p=Sum("points"))
        .values_list("item__outlet__community_id", "p")
    )
    if rows.count() != len(made):
        problems.append(f"{len(made)} redemptions reported, {rows.count()} found")
    for item_id, stock in before["stock"].items():
        fell = stock - after["stock"][item_id]
        if fell != by_item.get(item_id, 0):
            problems.append(
                f"item {item_id}: stock fell by {fell}, redemptions took {by_item.get(item_id, 0)}"
            )
    for community, balance in before["redeemed"].items():
        rose = after["redeemed"][community] - balance
        if rose != by_community.get(community, 0):
            problems.append(
                f"community {community}: redeemed rose by {rose}, redemptions {by_community.get(community)}"
            )
    return problems


def main() -> None:
    args = parse_args()
    os.environ.update(benchenv.environment(args.database_url))
    import django

    django.setup()
    from gongzhi.volunteering.selectors import ledger_drift

    load_before = os.getloadavg()
    if load_before[0] > 1.0:
        print(f"Warning: the load average is {load_before[0]:.1f} before the run; other work will skew it.")
    runs = []
    for scenario in [scenario for _round in range(args.repeat) for scenario in args.scenarios]:
        assignments = plan(args, scenario, args.clients)
        items = {item for item, _residents in assignments}
        before = snapshot(items)
        print(
            f"{scenario}: {args.clients} clients on {len(items)} item(s), {args.duration:.0f} s ...",
            flush=True,
        )
        result = run(args, scenario, assignments, args.clients, args.duration)
        result["problems"] = check(before, snapshot(items), result.pop("_made"))
        runs.append(result)
        if args.single and scenario == "contention":
            print(f"{scenario}: 1 client, {args.single:.0f} s ...", flush=True)
            single = plan(args, scenario, 1)
            before = snapshot({single[0][0]})
            result = run(args, f"{scenario} (1 client)", single, 1, args.single)
            result["problems"] = check(before, snapshot({single[0][0]}), result.pop("_made"))
            runs.append(result)

    print("Checking the whole ledger (selectors.ledger_drift) ...", flush=True)
    started = time.monotonic()
    drift = ledger_drift()
    drift_seconds = time.monotonic() - started

    print(
        "\n| scenario | clients | items | redemptions/s | p50 ms | p95 ms | p99 ms | refused "
        "| client CPU ms | DB CPU ms | machine busy | load avg |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in runs:
        print(
            f"| {row['scenario']} | {row['clients']} | {row['items']} | {row['per_second']:,.0f} | "
            f"{row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {sum(row['refused'].values())} | "
            f"{row['client_cpu_ms']} | {row['db_cpu_ms']} | {row['machine_busy']:.0%} | "
            f"{row['load_average']} |"
        )
    if args.repeat > 1:
        print("\nMedians over the rounds:\n\n| scenario | redemptions/s | p50 ms | p95 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|")
        for name in dict.fromkeys(row["scenario"] for row in runs):
            rows = [row for row in runs if row["scenario"] == name and row["p95_ms"] is not None]
            print(
                f"| {name} | "
                + " | ".join(f"{statistics.median(row[key] for row in rows):,.1f}" for key in MEDIANS)
                + " |"
            )
    for row in runs:
        for problem in row["problems"]:
            print(f"  PROBLEM {row['scenario']}: {problem}")
        for message, count in row["refused"].items():
            print(f"  {row['scenario']}: refused {count} x {message}")
    print(
        f"ledger_drift: {len(drift.accounts)} accounts, {len(drift.transactions)} transactions "
        f"out of balance ({drift_seconds:.1f} s)"
    )
    saved = {
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "clients": args.clients,
        "processes": args.processes,
        "duration_s": args.duration,
        "repeat": args.repeat,
        "load_average_before": [round(value, 2) for value in load_before],
        "runs": runs,
        "ledger_drift": {
            "accounts": len(drift.accounts),
            "transactions": len(drift.transactions),
            "seconds": round(drift_seconds, 1),
        },
    }
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    out = benchenv.OUT_DIR / f"redeem-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(saved, ensure_ascii=False, indent=2))
    print(f"Saved to {out.relative_to(benchenv.ROOT)}")
    if drift or any(row["problems"] for row in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
