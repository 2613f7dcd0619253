"""Community analysis at city scale: the district needs dashboard and the community profile, and their floor.

    .venv/bin/python bench/analysis_generate.py                 # first: the city and 2,000,000 answers
    .venv/bin/python bench/analysis_bench.py                    # both scenarios
    .venv/bin/python bench/analysis_bench.py dashboard --samples 30 --explain

Scenarios, on the database bench/analysis_generate.py built (default gongzhi_bench_analysis), one call at a
time, the variants interleaved so that the machine's load falls on all of them alike:

- dashboard: `selectors.needs_ranking(district, year=this year, group=...)` on random districts, without a
  group and with each group in turn; the page `/analysis/dashboard/?region=&year=&group=` rendered
  in-process by Django's test client (middleware, sessions in Redis, templates; no gunicorn, no network)
  signed in as the district officer (benchenv.DISTRICT_MOBILE) for their district; and the floor: the same
  counts (needs chosen by question and option, both years in one query, in the district's buildings, of
  the group) and the register's needs by status as hand-written SQL, run directly with psycopg.
- profile: `profile.community_profile(community)` on random communities, and on random districts; the page
  `/analysis/profile/?region=` for the officer's communities; and the floor: the profile's six aggregates
  (age band by sex, households by size, tags, organisations, spaces, shared resources) in hand-written SQL.

`--explain` prints `EXPLAIN (ANALYZE, BUFFERS)` of the queries `needs_ranking` runs for the officer's
district (with and without a group). Figures are printed as a table and saved to
bench/out/analysis-bench-<time>.json.
"""

import argparse
import json
import os
import random
import subprocess
import time
from collections import Counter
from urllib.parse import urlsplit

import benchenv
import psycopg
from analysis_generate import DATABASE_URL
from redeem import process_cpu_ms
from sharing_bench import CpuMeter, QueryCounter, summary

SCENARIOS = ("dashboard", "profile")
GROUPS = ("", "elderly", "children", "disability", "vulnerable")

RANKING_SQL = """
SELECT s.year, a.question_id, a.option, count(*)
FROM analysis_answer a
JOIN analysis_question q ON q.id = a.question_id
JOIN analysis_response r ON r.id = a.response_id
JOIN analysis_survey s ON s.id = r.survey_id
JOIN core_region b ON b.id = r.building_id
WHERE q.kind = 'needs' AND s.year IN (%(year)s, %(year)s - 1) AND b.path LIKE %(path)s {group}
GROUP BY 1, 2, 3
"""
NEEDS_BY_STATUS_SQL = """
SELECT n.status, count(*) FROM analysis_need n JOIN core_region c ON c.id = n.community_id
WHERE c.path LIKE %(path)s GROUP BY 1
"""
PROFILE_SQL = (
    # Age bands of five years up to 85+, by sex.
    """SELECT least(extract(year FROM age(%(today)s, r.birth_date))::int / 5, 17), r.sex, count(*)
    FROM core_resident r JOIN core_region g ON g.id = r.region_id WHERE g.path LIKE %(path)s GROUP BY 1, 2""",
    """SELECT least(size, 5), count(*) FROM (
        SELECT h.id, count(r.id) AS size FROM core_household h JOIN core_region g ON g.id = h.region_id
        LEFT JOIN core_resident r ON r.household_id = h.id WHERE g.path LIKE %(path)s GROUP BY h.id
    ) households GROUP BY 1""",
    """SELECT t.tag, count(*) FROM core_residenttag t JOIN core_resident r ON r.id = t.resident_id
    JOIN core_region g ON g.id = r.region_id WHERE g.path LIKE %(path)s GROUP BY 1""",
    """SELECT o.kind, count(*) FROM core_organisation o JOIN core_region g ON g.id = o.region_id
    WHERE g.path LIKE %(path)s GROUP BY 1""",
    """SELECT count(*) FROM analysis_asset a JOIN core_region g ON g.id = a.region_id
    WHERE g.path LIKE %(path)s AND a.kind = 'space'""",
    """SELECT s.kind, count(*) FROM sharing_resource s JOIN core_region g ON g.id = s.region_id
    WHERE g.path LIKE %(path)s AND s.is_active GROUP BY 1""",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--samples", type=int, default=60, help="calls of each variant")
    parser.add_argument("--year", type=int, default=0, help="the dashboard's year (default: the current one)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE needs_ranking's queries")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    args.scenarios = args.scenarios or list(SCENARIOS)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    return args


class Floor:
    """Hand-written SQL on a psycopg connection of its own, timed by variant, with its backend's CPU."""

    def __init__(self, database_url: str):
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.backend = self.conn.info.backend_pid
        self.ms: dict[str, list[float]] = {}
        self.db_ms: dict[str, float] = {}

    def run(self, variant: str, statements: tuple[str, ...], params: dict) -> None:
        before = process_cpu_ms(self.backend)
        began = time.perf_counter()
        for statement in statements:
            self.conn.execute(statement, params).fetchall()
        self.ms.setdefault(variant, []).append((time.perf_counter() - began) * 1000)
        self.db_ms[variant] = self.db_ms.get(variant, 0.0) + process_cpu_ms(self.backend) - before

    def figures(self, name: str, variant: str) -> dict:
        ms = self.ms.get(variant, [])
        db_ms = round(self.db_ms.get(variant, 0.0) / max(1, len(ms)), 2)
        return {"name": name, **summary(ms), "client_cpu_ms": None, "db_cpu_ms": db_ms, "queries": {}}


class Timed:
    def __init__(self, name: str):
        self.name, self.ms, self.meter, self.queries = name, [], CpuMeter(), Counter()

    def call(self, function, *args, **kwargs):
        from django.db import connection

        counter = QueryCounter()
        with connection.execute_wrapper(counter), self.meter:
            began = time.perf_counter()
            result = function(*args, **kwargs)
            self.ms.append((time.perf_counter() - began) * 1000)
        self.queries[counter.count] += 1
        return result

    def figures(self) -> dict:
        return {"name": self.name, **summary(self.ms), **self.meter.per_call(), "queries": dict(self.queries)}


def signed_in_client(env: dict):
    from django.test import Client

    from gongzhi.core.crypto import lookup_hash
    from gongzhi.core.models import User

    subprocess.run(
        [str(benchenv.PYTHON), "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=benchenv.ROOT,
        env=env,
        check=True,
    )
    officer = User.objects.get(mobile_hash=lookup_hash(benchenv.DISTRICT_MOBILE))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(officer)
    return client, officer


def officer_district(officer):
    from gongzhi.core.models import RoleAssignment

    return RoleAssignment.objects.select_related("region").get(user=officer).region


# ---------------------------------------------------------------------------------------------------------


def bench_dashboard(args, rng: random.Random, client, officer) -> list[dict]:
    from gongzhi.analysis import selectors
    from gongzhi.core.models import Region

    districts = list(Region.objects.filter(level="district"))
    home = officer_district(officer)
    selector = {group: Timed(f"needs_ranking, district, {group or 'all'}") for group in ("", "grouped")}
    page = {group: Timed(f"dashboard page, district, {group or 'all'}") for group in ("", "grouped")}
    floor = Floor(args.database_url)
    statuses = Counter()
    for k in range(args.samples):
        for group in ("", GROUPS[1 + k % (len(GROUPS) - 1)]):
            variant = "grouped" if group else ""
            district = rng.choice(districts)
            steps = [
                lambda d=district, g=group, v=variant: selector[v].call(
                    selectors.needs_ranking, d, year=args.year, group=g
                ),
                lambda g=group, v=variant: statuses.update(
                    [
                        page[v]
                        .call(client.get, f"/analysis/dashboard/?region={home.pk}&year={args.year}&group={g}")
                        .status_code
                    ]
                ),
                lambda d=district, g=group, v=variant: floor.run(
                    v,
                    (
                        RANKING_SQL.format(group="AND r.groups LIKE %(group)s" if g else ""),
                        NEEDS_BY_STATUS_SQL,
                    ),
                    {"year": args.year, "path": f"{d.path}%", "group": f"%,{g},%"},
                ),
            ]
            rng.shuffle(steps)
            for step in steps:
                step()
    rows = []
    for variant in ("", "grouped"):
        rows += [
            selector[variant].figures(),
            page[variant].figures(),
            floor.figures(f"floor SQL, district, {variant or 'all'}", variant),
        ]
    rows[1]["statuses"] = dict(statuses)  # of both variants' pages
    return rows


def bench_profile(args, rng: random.Random, client, officer) -> list[dict]:
    from django.utils import timezone

    from gongzhi.analysis.profile import community_profile
    from gongzhi.core.models import Region

    today = timezone.localdate()
    communities = list(Region.objects.filter(level="community"))
    districts = list(Region.objects.filter(level="district"))
    home = officer_district(officer)
    own = [c for c in communities if c.path.startswith(home.path)]
    timed = {
        "community": Timed("community_profile, community"),
        "page": Timed("profile page, community"),
        "district": Timed("community_profile, district"),
    }
    floor = Floor(args.database_url)
    statuses = Counter()
    for k in range(args.samples):
        community, mine = rng.choice(communities), rng.choice(own)
        steps = [
            lambda c=community: timed["community"].call(community_profile, c, today=today),
            lambda c=mine: statuses.update(
                [timed["page"].call(client.get, f"/analysis/profile/?region={c.pk}").status_code]
            ),
            lambda c=community: floor.run("community", PROFILE_SQL, {"path": f"{c.path}%", "today": today}),
        ]
        if k % 5 == 0:  # a district is fifty communities: fewer samples
            district = rng.choice(districts)
            steps += [
                lambda d=district: timed["district"].call(community_profile, d, today=today),
                lambda d=district: floor.run("district", PROFILE_SQL, {"path": f"{d.path}%", "today": today}),
            ]
        rng.shuffle(steps)
        for step in steps:
            step()
    rows = [
        timed["community"].figures(),
        timed["page"].figures(),
        floor.figures("floor SQL, community", "community"),
        timed["district"].figures(),
        floor.figures("floor SQL, district", "district"),
    ]
    rows[1]["statuses"] = dict(statuses)
    return rows


def explain(args, officer) -> None:
    from django.db import connection

    from gongzhi.analysis import selectors

    district = officer_district(officer)
    for group in ("", "elderly"):
        captured = []

        def capture(execute, sql, params, many, context, into=captured):
            into.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            selectors.needs_ranking(district, year=args.year, group=group)
        for sql, params in captured:
            print(f"\n--- needs_ranking({district.name}, group={group or 'all'}):\n{sql % tuple(params)}\n")
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                print("\n".join(row[0] for row in cursor.fetchall()))


def report(rows: list[dict]) -> None:
    print("\n| what | calls | p50 ms | p95 ms | p99 ms | max ms | client CPU ms | DB CPU ms | queries |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        cells = [
            row[key] for key in ("n", "p50_ms", "p95_ms", "p99_ms", "max_ms", "client_cpu_ms", "db_cpu_ms")
        ]
        queries = ", ".join(f"{n}×{count}" for n, count in sorted(row["queries"].items())) or "-"
        print(
            f"| {row['name']} | "
            + " | ".join("-" if c is None else str(c) for c in cells)
            + f" | {queries} |"
        )
    for row in rows:
        if row.get("statuses"):
            print(f"{row['name']}: HTTP statuses {row['statuses']}")


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.utils import timezone, translation

    translation.activate("en")
    args.year = args.year or timezone.localdate().year
    load_before = os.getloadavg()
    if load_before[0] > 1.0:
        print(f"Warning: the load average is {load_before[0]:.1f} before the run; other work will skew it.")
    name = urlsplit(args.database_url).path.lstrip("/")
    client, officer = signed_in_client(env)
    if args.explain:
        explain(args, officer)
    rng = random.Random(args.seed)
    rows = []
    for scenario in args.scenarios:
        print(f"{scenario} ...", flush=True)
        bench = bench_dashboard if scenario == "dashboard" else bench_profile
        rows += bench(args, rng, client, officer)
    report(rows)
    saved = {
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "database": name,
        "year": args.year,
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "args": {key: value for key, value in vars(args).items() if key != "database_url"},
        "rows": rows,
    }
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    out = benchenv.OUT_DIR / f"analysis-bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(saved, ensure_ascii=False, indent=2, default=str))
    print(f"\nSaved to {out.relative_to(benchenv.ROOT)}")


if __name__ == "__main__":
    main()
