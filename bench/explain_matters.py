"""Times and explains the matters queries of the public board and the dashboard on the benchmark database.

    .venv/bin/python bench/explain_matters.py            # times of each query
    .venv/bin/python bench/explain_matters.py --plans    # and their plans (EXPLAIN (ANALYZE, BUFFERS))

The board: `gongzhi.matters.selectors.public_board` for the whole city, the staff accounts' district and their
community, as the board page reads it (20 rows and one more to tell whether a next page exists) and with the
count a paginator would add (the page itself does not count). The dashboard:
`gongzhi.matters.metrics.dashboard_figures` for the district, its street and the community, one month (the
last whole month by default): the whole call, which is what a page waits for, then each query it runs.
"""

import argparse
import datetime
import functools
import os
import statistics
import time

import benchenv

PAGE_SIZE = 20  # gongzhi.matters.views.BOARD_PAGE_SIZE


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each query")
    parser.add_argument("--repeat", type=int, default=5, help="runs per query; the median is shown")
    parser.add_argument("--month", help="the dashboard's month, YYYY-MM (default: the last whole month)")
    parser.add_argument("--database-url", default=benchenv.DATABASE_URL)
    return parser.parse_args()


def timed(function, repeat: int) -> tuple[float, float, object]:
    """(median ms, slowest ms, last result) of `repeat` calls."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result


def run_sql(cursor, sql: str, params=None):
    def run():
        cursor.execute(sql, params)
        return cursor.fetchall()

    return run


def plan_of(cursor, sql: str, params=None) -> list[str]:
    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
    return [row[0] for row in cursor.fetchall()]


def show_plan(title: str, lines: list[str]) -> None:
    print(f"  -- {title}")
    print("\n".join(f"     {line}" for line in lines))


def board(cursor, regions: list, repeat: int, plans: bool) -> None:
    from gongzhi.matters.selectors import public_board

    print(f"Public board, first page ({PAGE_SIZE} + 1 rows) and count, median of {repeat}:")
    for label, region in regions:
        matters = public_board(region=region)
        page_sql, page_params = matters[: PAGE_SIZE + 1].query.sql_with_params()
        count_sql, count_params = matters.order_by().values("pk").query.sql_with_params()
        count_sql = f"SELECT count(*) FROM ({count_sql}) rows"
        run_sql(cursor, page_sql, page_params)()  # warm the cache, as a busy server would be
        page_ms, page_max, _rows = timed(run_sql(cursor, page_sql, page_params), repeat)
        count_ms, count_max, counted = timed(run_sql(cursor, count_sql, count_params), repeat)
        print(
            f"  {label:32} {counted[0][0]:>9,} rows   page {page_ms:7.1f} ms (max {page_max:6.1f})   "
            f"count {count_ms:7.1f} ms (max {count_max:6.1f})"
        )
        if plans:
            show_plan("page", plan_of(cursor, page_sql, page_params))
            show_plan("count", plan_of(cursor, count_sql, count_params))


def dashboard(cursor, regions: list, period, repeat: int, plans: bool) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gongzhi.matters.metrics import dashboard_figures

    print(f"\nDashboard for {period.label} (metrics.dashboard_figures), median of {repeat}:")
    for label, region in regions:
        dashboard_figures(region=region, period=period)  # warm
        total_ms, total_max, figures = timed(
            functools.partial(dashboard_figures, region=region, period=period), repeat
        )
        with CaptureQueriesContext(connection) as captured:
            dashboard_figures(region=region, period=period)
        queries = [query["sql"] for query in captured.captured_queries]
        print(
            f"  {label:32} {figures.metrics.received:>9,} received   {total_ms:7.1f} ms "
            f"(max {total_max:6.1f})   {len(queries)} queries:"
        )
        for number, sql in enumerate(queries, start=1):
            query_ms, query_max, _rows = timed(run_sql(cursor, sql), repeat)
            summary = " ".join(sql.split())
            print(f"    {number}. {query_ms:7.1f} ms (max {query_max:6.1f})   {summary[:90]}…")
            if plans:
                show_plan(f"query {number}", plan_of(cursor, sql))


def main() -> None:
    args = parse_args()
    os.environ.update(benchenv.environment(args.database_url))
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from gongzhi.core.models import RoleAssignment, User
    from gongzhi.matters.metrics import Period

    worker = User.objects.get_by_natural_key(benchenv.WORKER_MOBILE)
    community = RoleAssignment.objects.select_related("region").get(user=worker).region
    street, district = community.parent, community.parent.parent
    if args.month:
        year, month = map(int, args.month.split("-"))
    else:
        last_month = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
        year, month = last_month.year, last_month.month
    period = Period.month(year, month)
    with connection.cursor() as cursor:
        board(
            cursor,
            [
                ("city", None),
                (f"district {district.name}", district),
                (f"community {community.name}", community),
            ],
            args.repeat,
            args.plans,
        )
        dashboard(
            cursor,
            [
                (f"district {district.name}", district),
                (f"street {street.name}", street),
                (f"community {community.name}", community),
            ],
            period,
            args.repeat,
            args.plans,
        )


if __name__ == "__main__":
    main()
