"""Votes per second through `services.ballot_cast`: a community's 20,000 households voting on three motions.

    .venv/bin/python bench/consult_vote.py                          # open and secret ballots, 60,000 each
    .venv/bin/python bench/consult_vote.py --households 2000 open   # a quick check

The issue: "a consultation of 20,000 eligible households voting within one hour; report votes per second
accepted and the time to compute the result". The script (re)creates its own database (default
gongzhi_bench_consult; the name must contain "bench", since it is dropped first), migrates it with
`manage.py migrate`, and builds one community: `--households` households in buildings of 60 (10 compounds),
each with a head who has an account (no usable password) and 0-4 other members without one. A community
worker keeps two rule sets, one vote per household, half the households as quorum, more than half of the votes
cast; one with open ballots, one with secret ballots.

For each mode (open, secret) a consultation is raised by the committee with three motions, all the community's
households are added as participants (`services.participants_add_region`, timed), the notice is sent four
days back, and `services.voting_open` freezes the roll (timed) and opens voting for one hour. One voter (the
probe) votes first, alone, with its queries recorded. Then `--clients` processes (16, as gunicorn's sync
workers; each its own database connection) take disjoint slices of the household heads and, as fast as they
can, cast each head's vote on motion 1, 2 and 3 (for 60 %, against 30 %, abstain 10 %, drawn per vote from a
fixed seed) until every head has voted, `--votes` ballots are cast or `--duration` seconds have passed. Each
client also re-sends one vote in a hundred (`--duplicates`) just after it was accepted: those must be refused
and not counted. Every call is a new request's user (`User(pk=...)`: the role assignments are read each time,
as for a request); the motion is loaded once per client with its consultation.

Reported: accepted votes per second over the whole run, p50/p95/p99 latency of the accepted votes, refusals
(only the duplicates may be refused), CPU per vote of the clients and of their PostgreSQL backends, then the
time of `services.voting_close` (the result computation). If the clients stopped early, the votes they did not
cast are first written directly, as `ballot_cast` writes them (`--no-fill` skips this), so that the close
always counts every household. Checked afterwards: ballots (open) or receipts (secret) equal to the votes
accepted plus those filled in; every motion's count per choice, in the database and in the result
`voting_close` computed, equal to what was cast; each motion's votes (secret: its tallies) sum to the number
of households. With --plans, the probe's two slowest queries are explained. Figures are printed and saved
to bench/out/consult-vote-<time>.json.
"""

import argparse
import datetime
import json
import math
import multiprocessing
import os
import random
import resource
import statistics
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

import benchenv
import psycopg
from generate import migrate, recreate_database
from redeem import machine_jiffies, percentile, process_cpu_ms

MODES = ("open", "secret")
MEDIANS = ("per_second", "p50_ms", "p95_ms", "p99_ms", "close_s")
DATABASE_URL = os.environ.get(
    "BENCH_CONSULT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gongzhi_bench_consult"
)
HOUSEHOLDS_PER_BUILDING = 60
COMPOUNDS = 10
OTHER_MEMBERS = ((0, 0.25), (1, 0.30), (2, 0.25), (3, 0.12), (4, 0.08))  # households of 1-5, 2.5 on average
CHOICES = (("yes", 0.6), ("no", 0.3), ("abstain", 0.1))
MOTIONS = (
    "同意在小区东门增设非机动车充电棚。",
    "同意充电棚电费按使用量由使用者分摊。",
    "同意由业主委员会监督充电棚的建设与运行。",
)
DUPLICATE = "You have already voted on this motion."


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modes", nargs="*", metavar="MODE", help=f"any of {', '.join(MODES)} (default both)")
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--votes", type=int, default=0, help="ballots per mode (default: every head votes)")
    parser.add_argument("--duration", type=float, default=0, help="stop the clients after this many seconds")
    parser.add_argument("--duplicates", type=float, default=0.01, help="share of votes re-sent (refused)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the modes, interleaved; medians")
    parser.add_argument(
        "--no-fill",
        dest="fill",
        action="store_false",
        help="close on the votes cast (default: write the rest directly first, so the close counts everyone)",
    )
    parser.add_argument("--plans", action="store_true", help="EXPLAIN ANALYZE the probe's slowest queries")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    args.modes = args.modes or list(MODES)
    unknown = set(args.modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}; choose from {', '.join(MODES)}")
    if args.households < args.clients + 1:
        parser.error("need more households than clients")
    return args


def choice_of(seed: int, user_id: int, motion_number: int) -> str:
    rng = random.Random(f"{seed}:{user_id}:{motion_number}")
    return rng.choices([c for c, _share in CHOICES], [share for _c, share in CHOICES])[0]


# ---------------------------------------------------------------------------------------------------------
# The community


def build_community(args) -> dict:
    """Regions, households, heads with accounts, other members, the community worker and the rule sets."""
    from django.contrib.auth.hashers import make_password

    from gongzhi.consultations import services
    from gongzhi.consultations.rules import DecisionRule, QuorumBasis
    from gongzhi.core.demo import fake_name, fake_surname
    from gongzhi.core.models import Household, RegionLevel, Resident, RoleAssignment, User
    from gongzhi.core.roles import Role
    from gongzhi.core.services import region_create

    rng = random.Random(args.seed)
    city = region_create(parent=None, name="基准市", level=RegionLevel.CITY)
    district = region_create(parent=city, name="基准区", level=RegionLevel.DISTRICT)
    street = region_create(parent=district, name="基准街道", level=RegionLevel.STREET)
    community = region_create(parent=street, name="协商社区", level=RegionLevel.COMMUNITY)
    compounds = [
        region_create(parent=community, name=f"{k + 1}号院", level=RegionLevel.COMPOUND)
        for k in range(COMPOUNDS)
    ]
    buildings = [
        region_create(
            parent=compounds[b % COMPOUNDS], name=f"{b // COMPOUNDS + 1}栋", level=RegionLevel.BUILDING
        )
        for b in range(math.ceil(args.households / HOUSEHOLDS_PER_BUILDING))
    ]
    households = Household.objects.bulk_create(
        [
            Household(
                community=community,
                region=buildings[h // HOUSEHOLDS_PER_BUILDING],
                number=f"{k // 36 + 1}-{k % 36 // 2 + 1}{k % 2 + 1:02d}",
            )
            for h in range(args.households)
            for k in [h % HOUSEHOLDS_PER_BUILDING]
        ],
        batch_size=5000,
    )
    unusable = make_password(None)
    heads = []
    for h in range(args.households):
        user = User(name=fake_name(rng, rng.choice("MF"), rng.randint(1940, 2000)), password=unusable)
        user.set_mobile(f"171{h:08d}")
        heads.append(user)
    heads = User.objects.bulk_create(heads, batch_size=5000)
    residents = []
    sizes = [n for n, _share in OTHER_MEMBERS]
    weights = [share for _n, share in OTHER_MEMBERS]
    for household, user in zip(households, heads, strict=True):
        surname = fake_surname(rng)
        residents.append(
            Resident(
                community=community,
                region=household.region,
                household=household,
                name=user.name,
                is_household_head=True,
                user=user,
            )
        )
        for _member in range(rng.choices(sizes, weights)[0]):
            sex = rng.choice("MF")
            residents.append(
                Resident(
                    community=community,
                    region=household.region,
                    household=household,
                    name=fake_name(rng, sex, rng.randint(1940, 2020), surname),
                    sex=sex,
                )
            )
    Resident.objects.bulk_create(residents, batch_size=5000)
    worker = User.objects.create_user(benchenv.WORKER_MOBILE, benchenv.PASSWORD, name="基准社区工作者")
    RoleAssignment.objects.create(user=worker, role=Role.COMMUNITY_WORKER, region=community)
    rule_sets = {
        mode: services.rule_set_create(
            by=worker,
            region=community,
            name=name,
            vote_unit="household",
            quorum_basis=QuorumBasis.HOUSEHOLDS,
            quorum_share="0.5",
            decision_rule=DecisionRule.MAJORITY_OF_CAST,
            notice_days=3,
            secret_ballot=mode == "secret",
        )
        for mode, name in (("open", "户代表记名表决"), ("secret", "户代表无记名表决"))
    }
    return {
        "community": community,
        "worker": worker,
        "heads": [user.pk for user in heads],
        "rule_sets": rule_sets,
        "residents": len(residents),
        "regions": 4 + len(compounds) + len(buildings),
    }


def vacuum_analyze(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def prepare(setup: dict, mode: str, round_number: int) -> tuple:
    """A consultation in preparation with three motions and every household, then noticed and opened."""
    from django.utils import timezone

    from gongzhi.consultations import services
    from gongzhi.consultations.models import Origin

    worker, community = setup["worker"], setup["community"]
    now = timezone.now()
    consultation = services.consultation_propose(
        by=worker,
        community=community,
        rule_set=setup["rule_sets"][mode],
        title=f"增设非机动车充电棚（{'无记名' if mode == 'secret' else '记名'}，第{round_number + 1}轮）",
        description="居民反映电动自行车在楼道充电有火灾隐患，拟在东门增设充电棚。",
        origin=Origin.COMMITTEE,
        now=now - datetime.timedelta(days=5),
    )
    motions = [services.motion_add(consultation=consultation, by=worker, text=text) for text in MOTIONS]
    started = time.perf_counter()
    added = services.participants_add_region(
        consultation=consultation, by=worker, region=community, households=True
    )
    participants_s = time.perf_counter() - started
    services.consultation_notice(
        consultation=consultation,
        by=worker,
        meeting_at=now - datetime.timedelta(hours=1),
        materials="充电棚选址图、费用测算表。",
        place="社区党群服务中心",
        now=now - datetime.timedelta(days=4),
    )
    started = time.perf_counter()
    consultation = services.voting_open(
        consultation=consultation, by=worker, closes_at=timezone.now() + datetime.timedelta(hours=1)
    )
    open_s = time.perf_counter() - started
    return consultation, motions, {"participants": added, "participants_s": participants_s, "open_s": open_s}


# ---------------------------------------------------------------------------------------------------------
# The probe and the clients


class QueryTimer:
    """Every statement the connection runs inside the block, with its time (ms) and parameters."""

    def __init__(self):
        self.queries: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append(((time.perf_counter() - began) * 1000, sql, params))

    def slowest(self, n: int) -> list[list]:
        return [[round(ms, 2), sql[:160]] for ms, sql, _params in sorted(self.queries, reverse=True)[:n]]


def probe(consultation, motions, user_id: int, seed: int, plans: bool) -> dict:
    """One voter's three votes, alone, with every query and its time; with `plans`, the two slowest
    SELECTs of the last vote explained."""
    from django.db import connection

    from gongzhi.consultations import services
    from gongzhi.core.models import User

    timers, tallies = [], Counter()
    for motion in motions:
        choice = choice_of(seed, user_id, motion.number)
        timer = QueryTimer()
        with connection.execute_wrapper(timer):
            services.ballot_cast(motion=motion, by=User(pk=user_id), choice=choice)
        tallies[(motion.number, choice)] += 1
        timers.append(timer)
    result = {
        "queries_per_vote": [len(timer.queries) for timer in timers],
        "last_vote_ms": [[round(ms, 2), sql[:160]] for ms, sql, _params in timers[-1].queries],
        "tallies": tallies,
    }
    if plans:
        selects = [q for q in timers[-1].queries if q[1].lstrip().upper().startswith("SELECT")]
        result["plans"] = []
        with connection.cursor() as cursor:
            for _ms, sql, params in sorted(selects, key=lambda q: q[0], reverse=True)[:2]:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                result["plans"].append([sql, [row[0] for row in cursor.fetchall()]])
    return result


def run_client(
    user_ids: list[int], motion_ids: list[int], seed: int, start: float, stop: float, every: int
) -> dict:
    """In a client process: each head's votes on every motion, in order, until done or `stop`."""
    from django.db import connection, connections
    from django.utils import translation

    from gongzhi.consultations import services
    from gongzhi.consultations.models import Motion
    from gongzhi.core.exceptions import ServiceError
    from gongzhi.core.models import User

    connection.close()  # not shared with the parent after fork
    latencies, refused, duplicates_refused, tallies = [], Counter(), Counter(), Counter()
    try:
        with translation.override("en"):
            motions = list(Motion.objects.filter(pk__in=motion_ids).select_related("consultation"))
            motions.sort(key=lambda motion: motion.number)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend = cursor.fetchone()[0]
            time.sleep(max(0.0, start - time.time()))
            own_before = resource.getrusage(resource.RUSAGE_SELF)
            db_before = process_cpu_ms(backend)
            accepted = 0
            for user_id in user_ids:
                if time.time() >= stop:
                    break
                for motion in motions:
                    choice = choice_of(seed, user_id, motion.number)
                    began = time.perf_counter()
                    try:
                        services.ballot_cast(motion=motion, by=User(pk=user_id), choice=choice)
                    except ServiceError as error:
                        refused[str(error)] += 1
                        continue
                    latencies.append(time.perf_counter() - began)
                    tallies[(motion.number, choice)] += 1
                    accepted += 1
                    if every and accepted % every == 0:
                        try:  # the same vote again, as a second tap or a retried request would send it
                            services.ballot_cast(motion=motion, by=User(pk=user_id), choice=choice)
                        except ServiceError as error:
                            # Refused for being a duplicate, and for nothing else.
                            (duplicates_refused if str(error) == DUPLICATE else refused)[str(error)] += 1
                        else:
                            refused["a duplicate was accepted"] += 1
            finished = time.time()
            db_ms = process_cpu_ms(backend) - db_before
            own_after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        connections.close_all()
    client_ms = 1000 * (own_after.ru_utime + own_after.ru_stime - own_before.ru_utime - own_before.ru_stime)
    return {
        "latencies": latencies,
        "refused": refused,
        "duplicates_refused": duplicates_refused,
        "tallies": tallies,
        "finished": finished,
        "client_ms": client_ms,
        "db_ms": db_ms,
    }


def run(args, mode: str, motions, voters: list[int]) -> dict:
    from django.db import connection

    connection.close()
    slices = [voters[k :: args.clients] for k in range(args.clients)]
    start = time.time() + 2.0  # every process forked and connected before the clients start
    stop = start + args.duration if args.duration else math.inf
    every = round(1 / args.duplicates) if args.duplicates else 0
    busy_before = machine_jiffies()
    with ProcessPoolExecutor(len(slices), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [
            pool.submit(run_client, part, [m.pk for m in motions], args.seed, start, stop, every)
            for part in slices
        ]
        results = [future.result() for future in futures]
    busy_after = machine_jiffies()
    elapsed = max(result["finished"] for result in results) - start
    ms = [value * 1000 for result in results for value in result["latencies"]]
    return {
        "mode": mode,
        "clients": args.clients,
        "accepted": len(ms),
        "seconds": round(elapsed, 1),
        "per_second": round(len(ms) / elapsed, 1),
        "p50_ms": round(percentile(ms, 0.50), 1) if ms else None,
        "p95_ms": round(percentile(ms, 0.95), 1) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 1) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
        "refused": dict(sum((result["refused"] for result in results), Counter())),
        "duplicates_refused": dict(sum((result["duplicates_refused"] for result in results), Counter())),
        "load_average": round(os.getloadavg()[0], 1),
        "client_cpu_ms": round(sum(result["client_ms"] for result in results) / max(1, len(ms)), 2),
        "db_cpu_ms": round(sum(result["db_ms"] for result in results) / max(1, len(ms)), 2),
        "machine_busy": round((busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]), 2),
        "_tallies": sum((result["tallies"] for result in results), Counter()),
    }


# ---------------------------------------------------------------------------------------------------------
# The result and the checks


def close(setup: dict, consultation) -> tuple[float, int, list]:
    """Times `services.voting_close`; returns the seconds, the number of queries and the slowest ones."""
    from django.db import connection

    from gongzhi.consultations import services

    timer = QueryTimer()
    with connection.execute_wrapper(timer):
        started = time.perf_counter()
        services.voting_close(consultation=consultation, by=setup["worker"])
        seconds = time.perf_counter() - started
    return seconds, len(timer.queries), timer.slowest(4)


def fill(consultation, motions, mode: str, seed: int) -> tuple[Counter, float]:
    """The votes the clients did not cast (stopped by --votes or --duration), written directly as
    `ballot_cast` writes them (ballots; or receipts and the tallies), so that `voting_close` computes over
    every household. Returns their counts per (motion, choice) and the seconds taken."""
    from django.db import transaction
    from django.db.models import F

    from gongzhi.consultations.models import Ballot, BallotReceipt, RollEntry, SecretTally
    from gongzhi.core.models import Resident

    started = time.perf_counter()
    roll = list(
        RollEntry.objects.filter(consultation=consultation).values_list("pk", "participant__household_id")
    )
    head_of = dict(
        Resident.objects.filter(community=consultation.community_id, is_household_head=True).values_list(
            "household_id", "user_id"
        )
    )
    model = BallotReceipt if mode == "secret" else Ballot
    voted = set(model.objects.filter(motion__in=motions).values_list("motion_id", "voter_id"))
    rows, tallies = [], Counter()
    for entry, household in roll:
        for motion in motions:
            if (motion.pk, entry) in voted:
                continue
            choice = choice_of(seed, head_of[household], motion.number)
            tallies[(motion.number, choice)] += 1
            if mode == "secret":
                rows.append(BallotReceipt(id=uuid.uuid4(), motion=motion, voter_id=entry))
            else:
                rows.append(Ballot(motion=motion, voter_id=entry, choice=choice))
    with transaction.atomic():
        model.objects.bulk_create(rows, batch_size=5000)
        if mode == "secret":
            for motion in motions:
                for choice, _share in CHOICES:
                    SecretTally.objects.filter(motion=motion, choice=choice).update(
                        heads=F("heads") + tallies[(motion.number, choice)]  # households carry no floor area
                    )
    return tallies, time.perf_counter() - started


def check(consultation, motions, mode: str, tallies: Counter, accepted: int, households: int) -> list[str]:
    """The database and the computed result hold exactly the votes the clients were told were accepted."""
    from django.db.models import Count

    from gongzhi.consultations.models import Ballot, BallotReceipt, Motion, SecretTally

    problems = []
    motion_ids = [motion.pk for motion in motions]
    numbers = {motion.pk: motion.number for motion in motions}
    ballots = Ballot.objects.filter(motion_id__in=motion_ids)
    receipts = BallotReceipt.objects.filter(motion_id__in=motion_ids)
    if mode == "secret":
        if ballots.exists():
            problems.append(f"{ballots.count()} open ballots in a secret consultation")
        rows = receipts.count()
        stored = Counter(
            {
                (numbers[row["motion_id"]], row["choice"]): row["heads"]
                for row in SecretTally.objects.filter(motion_id__in=motion_ids).values(
                    "motion_id", "choice", "heads"
                )
            }
        )
        per_motion = Counter(
            dict(receipts.values("motion_id").annotate(n=Count("id")).values_list("motion_id", "n"))
        )
        for motion in motions:
            heads = sum(stored[(motion.number, choice)] for choice, _share in CHOICES)
            if heads != per_motion[motion.pk]:
                problems.append(
                    f"motion {motion.number}: tallies sum to {heads}, receipts {per_motion[motion.pk]}"
                )
    else:
        if receipts.exists() or SecretTally.objects.filter(motion_id__in=motion_ids).exists():
            problems.append("receipts or secret tallies in an open consultation")
        rows = ballots.count()
        stored = Counter(
            {
                (numbers[row["motion_id"]], row["choice"]): row["n"]
                for row in ballots.values("motion_id", "choice").annotate(n=Count("id"))
            }
        )
    if rows != accepted:
        problems.append(
            f"{accepted} votes accepted, {rows} {'receipts' if mode == 'secret' else 'ballots'} stored"
        )
    if +stored != +tallies:
        problems.append(f"stored counts {dict(stored)} differ from the votes cast {dict(tallies)}")
    for motion in Motion.objects.filter(pk__in=motion_ids):
        count = motion.figures["count"]
        computed = {choice: int(count[f"{choice}_heads"]) for choice, _share in CHOICES}
        cast = {choice: tallies[(motion.number, choice)] for choice, _share in CHOICES}
        if computed != cast:
            problems.append(f"motion {motion.number}: the result counts {computed}, the clients cast {cast}")
        if sum(computed.values()) != households and accepted == len(MOTIONS) * households:
            problems.append(
                f"motion {motion.number}: {sum(computed.values())} votes of {households} households"
            )
    return problems


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.utils import translation

    load_before = os.getloadavg()
    if load_before[0] > 1.0:
        print(f"Warning: the load average is {load_before[0]:.1f} before the run; other work will skew it.")
    name = urlsplit(args.database_url).path.lstrip("/")
    print(f"Recreating and migrating {name}, then {args.households:,} households ...", flush=True)
    started = time.monotonic()
    recreate_database(args.database_url)
    migrate(env)
    migrated = time.monotonic()
    translation.activate("en")
    setup = build_community(args)
    vacuum_analyze(args.database_url)
    built = time.monotonic()
    heads = setup["heads"]
    probe_voter, voters = heads[0], heads[1:]
    if args.votes:
        voters = voters[: max(args.clients, math.ceil(args.votes / len(MOTIONS)) - 1)]
    print(
        f"  {len(heads):,} households, {setup['residents']:,} residents, {setup['regions']} regions: "
        f"migrate {migrated - started:.1f} s, build {built - migrated:.1f} s",
        flush=True,
    )

    runs = []
    for round_number in range(args.repeat):
        for mode in args.modes:
            consultation, motions, timings = prepare(setup, mode, round_number)
            probed = probe(consultation, motions, probe_voter, args.seed, args.plans)
            print(
                f"{mode}: {timings['participants']:,} participants in {timings['participants_s']:.1f} s, "
                f"roll frozen in {timings['open_s']:.1f} s; {args.clients} clients, "
                f"{3 * len(voters):,} votes ...",
                flush=True,
            )
            result = run(args, mode, motions, voters)
            tallies = result.pop("_tallies") + probed.pop("tallies")
            filled, fill_s = fill(consultation, motions, mode, args.seed) if args.fill else (Counter(), 0.0)
            close_s, close_queries, close_slowest = close(setup, consultation)
            result.update(
                round=round_number + 1,
                participants_s=round(timings["participants_s"], 2),
                roll_freeze_s=round(timings["open_s"], 2),
                close_s=round(close_s, 2),
                close_queries=close_queries,
                close_slowest_ms=close_slowest,
                filled=filled.total(),
                fill_s=round(fill_s, 1),
                probe=probed,
                problems=check(
                    consultation,
                    motions,
                    mode,
                    tallies + filled,
                    result["accepted"] + 3 + filled.total(),
                    len(heads),
                ),
                passed={motion.number: motion.passed for motion in consultation.motions.all()},
            )
            runs.append(result)
            print(
                f"  {result['accepted']:,} accepted in {result['seconds']} s: {result['per_second']:,.0f}/s, "
                f"p95 {result['p95_ms']} ms; {result['filled']:,} filled in directly ({fill_s:.1f} s); "
                f"voting_close {close_s:.2f} s",
                flush=True,
            )

    print(
        "\n| mode | round | clients | votes accepted | seconds | votes/s | p50 ms | p95 ms | p99 ms "
        "| duplicates refused | other refusals | client CPU ms | DB CPU ms | machine busy | load avg "
        "| add participants s | roll freeze s | filled in | voting_close s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in runs:
        print(
            f"| {row['mode']} | {row['round']} | {row['clients']} | {row['accepted']:,} | {row['seconds']} | "
            f"{row['per_second']:,.0f} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | "
            f"{sum(row['duplicates_refused'].values())} | {sum(row['refused'].values())} | "
            f"{row['client_cpu_ms']} | {row['db_cpu_ms']} | {row['machine_busy']:.0%} | "
            f"{row['load_average']} | "
            f"{row['participants_s']} | {row['roll_freeze_s']} | {row['filled']:,} | {row['close_s']} |"
        )
    if args.repeat > 1:
        print("\nMedians over the rounds:\n\n| mode | votes/s | p50 ms | p95 ms | p99 ms | voting_close s |")
        print("|---|---:|---:|---:|---:|---:|")
        for mode in args.modes:
            rows = [row for row in runs if row["mode"] == mode and row["p95_ms"] is not None]
            print(
                f"| {mode} | "
                + " | ".join(f"{statistics.median(row[key] for row in rows):,.2f}" for key in MEDIANS)
                + " |"
            )
    for row in runs:
        print(f"\n{row['mode']} (round {row['round']}): motions passed {row['passed']}")
        print(f"  the probe's last vote, {len(row['probe']['last_vote_ms'])} queries (ms):")
        for ms, sql in row["probe"]["last_vote_ms"]:
            print(f"    {ms:7.2f}  {sql}")
        for sql, plan in row["probe"].get("plans", []):
            print(f"  EXPLAIN ANALYZE {sql[:200]}")
            for line in plan:
                print(f"    {line}")
        print(f"  voting_close: {row['close_queries']} queries; slowest (ms):")
        for ms, sql in row["close_slowest_ms"]:
            print(f"    {ms:7.1f}  {sql}")
        for message, count in row["duplicates_refused"].items():
            print(f"  duplicates: refused {count} x {message}")
        for message, count in row["refused"].items():
            print(f"  PROBLEM: refused {count} x {message}")
        for problem in row["problems"]:
            print(f"  PROBLEM: {problem}")
    saved = {
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "households": len(heads),
        "residents": setup["residents"],
        "clients": args.clients,
        "votes_per_mode": 3 * (len(voters) + 1),
        "duration_s": args.duration or None,
        "repeat": args.repeat,
        "load_average_before": [round(value, 2) for value in load_before],
        "migrate_s": round(migrated - started, 1),
        "build_s": round(built - migrated, 1),
        "runs": runs,
    }
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    out = benchenv.OUT_DIR / f"consult-vote-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(saved, ensure_ascii=False, indent=2, default=str))
    print(f"\nSaved to {out.relative_to(benchenv.ROOT)}")
    if any(row["problems"] or row["refused"] for row in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
