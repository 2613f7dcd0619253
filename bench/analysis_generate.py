"""Adds community analysis to a city-scale roster: needs surveys, 2,000,000 answers, participation, needs.

    .venv/bin/python bench/analysis_generate.py                      # the city if missing, then the surveys
    .venv/bin/python bench/analysis_generate.py --answers 200000     # a quick run on the same city
    .venv/bin/python bench/analysis_generate.py --new-city --communities 5 --residents 20000 --answers 20000

It works on its own database (default gongzhi_bench_analysis, BENCH_ANALYSIS_DATABASE_URL; the name must
contain "bench"). The city is bench/generate.py's, roster only (`--matters 0`): when the database holds no
residents, or with --new-city, generate.py is run first with --communities, --residents and --seed. Earlier
analysis rows are removed (TRUNCATE of the analysis tables), then:

- every community runs a needs survey last year (closed) and this year (open), two editions of one lineage
  (`services.survey_repeat` keeps keys and lineage the same way): a needs question (the NeedCategory values,
  one to three chosen), a 1-5 satisfaction scale and a multiple choice of services used (none to three);
  one community in ten runs them identified (the response keeps the resident and household);
- `--answers` answer rows in all (2,000,000), shared between communities in proportion to their residents,
  a tenth more this year than last; each community draws respondents from its own roster (twelve and over,
  the elderly more willing), so a response's building, age band, sex and groups are the respondent's, computed
  by `services.age_band` and `services.groups_of` as of the day they answered, and its respondent_key is
  `services._respondent_key`'s. The needs chosen depend on the community (its own mix) and on the
  respondent's groups (the elderly choose elderly care and health more, families with children childcare...);
  last year's mix is this year's, shaken;
- a SurveyParticipation row per respondent and month, as `response_submit` writes it;
- a few needs per community in its register (its most chosen categories, various statuses), each resting on
  this year's survey answers (an Evidence row with the count) with an action or two.

Responses and answers go in by COPY from one process per core, each taking whole communities; response ids
come from the table's sequence. The secondary indexes, unique keys and foreign keys of the response and
answer tables are dropped during the load and rebuilt from their own definitions afterwards (the rebuilt
unique keys check every respondent key and chosen option), then VACUUM ANALYZE. Figures go to
bench/out/analysis-generate.json.
"""

import argparse
import datetime
import json
import math
import multiprocessing
import os
import random
import subprocess
import time
import uuid
from types import SimpleNamespace
from urllib.parse import urlsplit

import benchenv
import psycopg
from generate import copy_rows, detach_indexes, reattach_indexes, split_evenly

DATABASE_URL = os.environ.get(
    "BENCH_ANALYSIS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gongzhi_bench_analysis"
)
SURVEY_TITLE = "社区居民需求调查"
SERVICES = ("社区食堂", "日间照料中心", "社区卫生服务站", "儿童之家", "文体活动室", "法律咨询")
# Answers a year: this year's edition draws more than last year's.
YEAR_SHARE = {0: 1.1, 1: 0.9}  # years before this one -> weight
NEEDS_CHOSEN = ((1, 0.30), (2, 0.45), (3, 0.25))
SERVICES_CHOSEN = ((0, 0.25), (1, 0.35), (2, 0.25), (3, 0.15))
SATISFACTION = ((1, 0.04), (2, 0.08), (3, 0.25), (4, 0.38), (5, 0.25))
P_SATISFACTION = 0.95  # the scale is optional
MODES = (("online", 0.85), ("assisted", 0.10), ("paper", 0.05))
P_IDENTIFIED = 0.1  # communities whose surveys keep who answered
# How much more a group chooses a category than the community at large.
GROUP_LEAN = {
    "elderly": {"elderly_care": 3.0, "health": 2.0, "culture": 1.3},
    "children": {"childcare": 4.0, "culture": 1.5, "safety": 1.3},
    "disability": {"health": 2.5, "legal": 2.0, "housing": 1.5},
    "vulnerable": {"employment": 2.5, "legal": 2.0, "housing": 1.8, "elderly_care": 1.3},
}
NEEDS_PER_COMMUNITY = (2, 6)
NEED_STATUSES = (("identified", 0.35), ("planned", 0.25), ("addressing", 0.25), ("met", 0.15))

_worker: dict = {}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=2_000_000, help="answer rows in all")
    parser.add_argument("--year", type=int, default=0, help="this year's edition (default: the current year)")
    parser.add_argument("--new-city", action="store_true", help="rebuild the city (generate.py) first")
    parser.add_argument("--communities", type=int, default=300, help="for generate.py")
    parser.add_argument("--residents", type=int, default=1_000_000, help="for generate.py")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=DATABASE_URL)
    args = parser.parse_args()
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the database's name must contain 'bench'")
    return args


def weighted(rng: random.Random, choices) -> int | str:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def choose_distinct(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    """k categories without replacement, each drawn in proportion to its weight (Efraimidis-Spirakis)."""
    keyed = sorted(weights, key=lambda value: -math.log(1.0 - rng.random()) / weights[value])
    return keyed[:k]


def has_city(database_url: str) -> bool:
    try:
        with psycopg.connect(database_url) as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM core_resident)").fetchone()[0]
    except psycopg.Error:
        return False


def build_city(args) -> None:
    command = [
        str(benchenv.PYTHON),
        str(benchenv.ROOT / "bench" / "generate.py"),
        "--matters",
        "0",
        "--communities",
        str(args.communities),
        "--residents",
        str(args.residents),
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--database-url",
        args.database_url,
    ]
    subprocess.run(command, cwd=benchenv.ROOT, check=True)


# ---------------------------------------------------------------------------------------------------------
# The surveys, written in the main process: two editions per community, three questions each


def create_surveys(args, rng: random.Random, now: datetime.datetime) -> list[dict]:
    """Surveys and questions by bulk_create; returns one plan per community with its editions' ids."""
    from django.db.models import Count
    from django.utils import timezone

    from gongzhi.analysis.models import NeedCategory, Question, QuestionKind, Survey, SurveyStatus
    from gongzhi.core.crypto import lookup_hash
    from gongzhi.core.models import Region, Resident, User

    staff = User.objects.get(mobile_hash=lookup_hash(benchenv.WORKER_MOBILE))
    sizes = dict(Resident.objects.values_list("community_id").annotate(n=Count("pk")).order_by())
    communities = list(Region.objects.filter(level="community").order_by("pk").values_list("pk", "path"))
    tz = timezone.get_current_timezone()
    plans, surveys = [], []
    for community_id, path in communities:
        lineage = uuid.uuid4()
        identified = rng.random() < P_IDENTIFIED
        editions = {}
        for back in (1, 0):
            year = args.year - back
            opened = datetime.datetime(year, 3, 1, 9, tzinfo=tz)
            closed = datetime.datetime(year, 6, 30, 18, tzinfo=tz) if back else None
            survey = Survey(
                region_id=community_id,
                title=SURVEY_TITLE,
                intro="",
                audience_region_id=community_id,
                anonymous=not identified,
                lineage=lineage,
                year=year,
                status=SurveyStatus.CLOSED if back else SurveyStatus.OPEN,
                opened_at=opened,
                closed_at=closed,
                created_by=staff,
                created_at=opened - datetime.timedelta(days=7),
            )
            surveys.append(survey)
            editions[back] = survey
        plans.append(
            {
                "community_id": community_id,
                "path": path,
                "residents": sizes.get(community_id, 0),
                "identified": identified,
                "editions": editions,
            }
        )
    Survey.objects.bulk_create(surveys, batch_size=2000)
    questions = []
    for plan in plans:
        for survey in plan["editions"].values():
            questions += [
                Question(
                    survey=survey,
                    number=1,
                    key="needs",
                    kind=QuestionKind.NEEDS,
                    text="您家最需要社区提供哪些服务?(最多选三项)",
                    options=list(NeedCategory.values),
                ),
                Question(
                    survey=survey,
                    number=2,
                    key="satisfaction",
                    kind=QuestionKind.SCALE,
                    text="您对社区服务的总体满意度",
                    required=False,
                    minimum=1,
                    maximum=5,
                ),
                Question(
                    survey=survey,
                    number=3,
                    key="services",
                    kind=QuestionKind.MULTIPLE,
                    text="过去一年您用过哪些社区服务?",
                    required=False,
                    options=list(SERVICES),
                ),
            ]
    Question.objects.bulk_create(questions, batch_size=2000)
    by_survey: dict[int, dict[str, int]] = {}
    for question in questions:
        by_survey.setdefault(question.survey_id, {})[question.key] = question.pk
    budgets = split_evenly(
        args.answers,
        [plan["residents"] * YEAR_SHARE[back] for plan in plans for back in (1, 0)],
    )
    categories = list(NeedCategory.values)
    for k, plan in enumerate(plans):
        # The community's own mix of needs, a little different last year.
        mix = {category: rng.gammavariate(1.5, 1.0) for category in categories}
        plan["editions"] = {
            back: {
                "survey_id": survey.pk,
                "year": survey.year,
                "questions": by_survey[survey.pk],
                "opened": survey.opened_at,
                "closed": survey.closed_at or now,
                "budget": budgets[2 * k + (0 if back else 1)],
                "mix": mix if back == 0 else {c: w * rng.uniform(0.6, 1.4) for c, w in mix.items()},
            }
            for back, survey in plan["editions"].items()
        }
        plan["staff_id"] = staff.pk
    return plans


# ---------------------------------------------------------------------------------------------------------
# Worker processes: each takes whole communities, draws their respondents and answers, and copies them


def _worker_init(database_url: str, seed: int, year: int) -> None:
    _worker["conn"] = psycopg.connect(database_url)
    _worker["conn"].execute("SET synchronous_commit = off")
    _worker.update(seed=seed, year=year)


def _roster(conn: psycopg.Connection, community_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT r.id, r.region_id, r.household_id, r.sex, r.birth_date,"
        " coalesce(array_agg(t.tag) FILTER (WHERE t.tag IS NOT NULL), '{}')"
        " FROM core_resident r LEFT JOIN core_residenttag t ON t.resident_id = r.id"
        " WHERE r.community_id = %s GROUP BY r.id ORDER BY r.id",
        [community_id],
    ).fetchall()


def _as_resident(row: tuple) -> SimpleNamespace:
    """What `services.groups_of` reads of a resident: its birth date and its tags."""
    tags = [SimpleNamespace(tag=tag) for tag in row[5]]
    return SimpleNamespace(birth_date=row[4], tags=SimpleNamespace(all=lambda: tags))


def load_community(plan: dict) -> dict:
    from gongzhi.analysis import services
    from gongzhi.analysis.models import Answer, Response
    from gongzhi.core.crypto import lookup_hash

    conn = _worker["conn"]
    rng = random.Random(f"{_worker['seed']}:analysis:{plan['community_id']}")
    roster = _roster(conn, plan["community_id"])
    responses, answers, participation = [], [], set()
    chosen_this_year: dict[str, int] = {}
    for back, edition in sorted(plan["editions"].items(), reverse=True):
        budget = edition["budget"]
        opened, closed = edition["opened"], edition["closed"]
        window = max(1.0, (closed - opened).total_seconds())
        candidates = []
        for row in roster:
            age = (closed.date() - row[4]).days // 365 if row[4] else 30
            if age >= 12:
                # Older residents answer more willingly; keyed for sampling without replacement.
                weight = 2.0 if age >= 60 else 1.0
                candidates.append((-math.log(1.0 - rng.random()) / weight, row))
        candidates.sort(key=lambda pair: pair[0])
        key_ids = iter(
            conn.execute(
                "SELECT nextval(pg_get_serial_sequence('analysis_response', 'id'))"
                " FROM generate_series(1, %s)",
                [min(budget, len(candidates))],
            ).fetchall()
        )
        questions = edition["questions"]
        categories = list(edition["mix"])
        for _weight, row in candidates:
            if budget <= 0:
                break
            resident_id, building_id, household_id, sex, _birth, _tags = row
            submitted = opened + datetime.timedelta(seconds=window * rng.random() ** 1.5)
            day = submitted.astimezone(opened.tzinfo).date()
            groups = services.groups_of(_as_resident(row), day)
            mode = weighted(rng, MODES)
            response_id = next(key_ids)[0]
            responses.append(
                (
                    response_id,
                    edition["survey_id"],
                    resident_id if plan["identified"] else None,
                    household_id if plan["identified"] else None,
                    lookup_hash(f"survey:{edition['survey_id']}:resident:{resident_id}"),
                    building_id,
                    services.age_band(row[4], day),
                    sex,
                    services.groups_field(groups),
                    mode,
                    None if mode == "online" else plan["staff_id"],
                    submitted,
                )
            )
            participation.add((resident_id, day.replace(day=1)))
            weights = dict(edition["mix"])
            for group in groups:
                for category, lean in GROUP_LEAN.get(group, {}).items():
                    weights[category] *= lean
            needs = choose_distinct(rng, weights, min(weighted(rng, NEEDS_CHOSEN), budget))
            for category in needs:
                answers.append((response_id, questions["needs"], categories.index(category), None))
                if back == 0:
                    chosen_this_year[category] = chosen_this_year.get(category, 0) + 1
            budget -= len(needs)
            if budget > 0 and rng.random() < P_SATISFACTION:
                answers.append((response_id, questions["satisfaction"], None, weighted(rng, SATISFACTION)))
                budget -= 1
            used = min(weighted(rng, SERVICES_CHOSEN), budget)
            for option in rng.sample(range(len(SERVICES)), used):
                answers.append((response_id, questions["services"], option, None))
            budget -= used
    copy_rows(
        conn,
        Response,
        [
            "id",
            "survey",
            "resident",
            "household",
            "respondent_key",
            "building",
            "age_band",
            "sex",
            "groups",
            "mode",
            "entered_by",
            "submitted_at",
        ],
        responses,
    )
    copy_rows(conn, Answer, ["response", "question", "option", "number", "text"], ((*a, "") for a in answers))
    _participation(conn, participation)
    conn.commit()
    return {
        "community_id": plan["community_id"],
        "responses": len(responses),
        "answers": len(answers),
        "participation": len(participation),
        "chosen_this_year": chosen_this_year,
    }


def _participation(conn: psycopg.Connection, rows: set[tuple]) -> None:
    from gongzhi.analysis.models import SurveyParticipation

    copy_rows(conn, SurveyParticipation, ["resident", "month"], sorted(rows))


# ---------------------------------------------------------------------------------------------------------
# The needs register: a few needs per community resting on this year's answers


def create_needs(rng: random.Random, plans: list[dict], loaded: list[dict], now: datetime.datetime) -> dict:
    from gongzhi.analysis.models import Action, Evidence, EvidenceKind, Need, NeedCategory, NeedType

    names = dict(NeedCategory.choices)
    chosen = {row["community_id"]: row["chosen_this_year"] for row in loaded}
    needs, evidence_of = [], []
    for plan in plans:
        edition = plan["editions"][0]
        counts = chosen.get(plan["community_id"], {})
        top = sorted(counts, key=lambda category: -counts[category])
        for category in top[: rng.randint(*NEEDS_PER_COMMUNITY)]:
            need = Need(
                community_id=plan["community_id"],
                title=f"{names[category]}需求",
                category=category,
                need_type=NeedType.FELT,
                groups=[group for group, leans in GROUP_LEAN.items() if category in leans][:2],
                status=weighted(rng, NEED_STATUSES),
                people_count=counts[category],
                created_by_id=plan["staff_id"],
                created_at=edition["opened"] + datetime.timedelta(days=60),
                updated_at=now,
            )
            needs.append(need)
            evidence_of.append((need, edition, category))
    Need.objects.bulk_create(needs, batch_size=2000)
    evidence, actions = [], []
    for need, edition, category in evidence_of:
        evidence.append(
            Evidence(
                need=need,
                kind=EvidenceKind.SURVEY,
                question_id=edition["questions"]["needs"],
                option=list(edition["mix"]).index(category),
                count=need.people_count,
                added_by_id=need.created_by_id,
                added_at=need.created_at,
            )
        )
        if need.status != "identified":
            actions.append(
                Action(
                    need=need,
                    text="居民议事会讨论,列入年度服务计划",
                    status_before="identified",
                    status_after=need.status,
                    by_id=need.created_by_id,
                    at=need.created_at + datetime.timedelta(days=14),
                )
            )
    Evidence.objects.bulk_create(evidence, batch_size=2000)
    Action.objects.bulk_create(actions, batch_size=2000)
    return {"needs": len(needs), "evidence": len(evidence), "actions": len(actions)}


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    os.environ.update(env)
    started = time.monotonic()
    name = urlsplit(args.database_url).path.lstrip("/")
    if args.new_city or not has_city(args.database_url):
        print(f"Building the city in {name} with bench/generate.py ...", flush=True)
        build_city(args)
    city_built = time.monotonic()

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from gongzhi.analysis.models import Answer, Response, SurveyParticipation

    args.year = args.year or timezone.localdate().year
    now = timezone.now()
    rng = random.Random(args.seed)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE analysis_action, analysis_evidence, analysis_need_regions, analysis_need,"
            " analysis_answer, analysis_response, analysis_question, analysis_survey,"
            " analysis_surveyparticipation RESTART IDENTITY"
        )
    print(f"Surveys for {args.year - 1} and {args.year} ...", flush=True)
    plans = create_surveys(args, rng, now)
    connection.close()
    big_tables = [Response._meta.db_table, Answer._meta.db_table, SurveyParticipation._meta.db_table]
    with psycopg.connect(args.database_url) as conn:
        indexes, foreign_keys = detach_indexes(conn, big_tables)
    prepared = time.monotonic()

    print(f"Loading {args.answers:,} answers in {len(plans)} communities with {args.workers} processes ...")
    loaded, totals = [], {"responses": 0, "answers": 0, "participation": 0}
    context = multiprocessing.get_context("fork")
    with context.Pool(args.workers, _worker_init, (args.database_url, args.seed, args.year)) as pool:
        for done, row in enumerate(pool.imap_unordered(load_community, plans), start=1):
            loaded.append(row)
            for key in totals:
                totals[key] += row[key]
            if done % max(1, len(plans) // 10) == 0 or done == len(plans):
                elapsed = time.monotonic() - prepared
                print(
                    f"  {done}/{len(plans)} communities, {totals['answers']:,} answers, "
                    f"{totals['answers'] / elapsed:,.0f} answers/s",
                    flush=True,
                )
    copied = time.monotonic()
    print(f"Rebuilding {len(indexes)} indexes and {len(foreign_keys)} foreign keys ...", flush=True)
    reattach_indexes(args.database_url, indexes, foreign_keys, args.workers)
    indexed = time.monotonic()
    register = create_needs(rng, plans, loaded, now)
    connection.close()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        sizes = {
            table: conn.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))", [table]).fetchone()[0]
            for table in big_tables
        }
    finished = time.monotonic()
    summary = {
        "database": name,
        "year": args.year,
        "rows": {"surveys": 2 * len(plans), "questions": 6 * len(plans), **totals, **register},
        "sizes": sizes,
        "seconds": {
            "city": round(city_built - started, 1),
            "surveys_and_detach": round(prepared - city_built, 1),
            "copy": round(copied - prepared, 1),
            "indexes_and_foreign_keys": round(indexed - copied, 1),
            "needs_and_vacuum_analyze": round(finished - indexed, 1),
            "analysis_total": round(finished - city_built, 1),
        },
        "answers_per_second_in_copy": round(totals["answers"] / (copied - prepared)),
        "workers": args.workers,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    (benchenv.OUT_DIR / "analysis-generate.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2)
    )
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
