"""Times and explains the scoped roster queries behind the resident list and search on the benchmark
database: the first page (ORDER BY name, id LIMIT 50) and the count the paginator runs.

    .venv/bin/python bench/explain.py            # times of each query
    .venv/bin/python bench/explain.py --plans    # and their plans

The querysets come from `gongzhi.core.selectors.resident_search`, as the workbench and the API build them.
"""

import argparse
import os
import statistics
import time

import benchenv

SEARCHES = ("", "王")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each query")
    parser.add_argument("--repeat", type=int, default=5, help="runs per query; the median is shown")
    parser.add_argument("--database-url", default=benchenv.DATABASE_URL)
    return parser.parse_args()


def run(cursor, sql: str, params, repeat: int) -> tuple[float, list[str]]:
    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
    plan = [row[0] for row in cursor.fetchall()]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        cursor.execute(sql, params)
        cursor.fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), plan


def main() -> None:
    args = parse_args()
    os.environ.update(benchenv.environment(args.database_url))
    import django

    django.setup()
    from django.db import connection

    from gongzhi.core import selectors
    from gongzhi.core.models import User

    with connection.cursor() as cursor:
        for label, mobile in (
            ("community worker", benchenv.WORKER_MOBILE),
            ("street officer", benchenv.OFFICER_MOBILE),
        ):
            for query in SEARCHES:
                user = User.objects.get_by_natural_key(mobile)
                residents = selectors.resident_search(user, query=query)
                page_sql, page_params = residents[:50].query.sql_with_params()
                count_sql, count_params = residents.order_by().values("pk").query.sql_with_params()
                page_ms, page_plan = run(cursor, page_sql, page_params, args.repeat)
                count_ms, count_plan = run(
                    cursor, f"SELECT count(*) FROM ({count_sql}) rows", count_params, args.repeat
                )
                cursor.execute(f"SELECT count(*) FROM ({count_sql}) rows", count_params)
                matches = cursor.fetchone()[0]
                print(
                    f"{label:16} q={query!r:5} {matches:>7,} rows   "
                    f"page {page_ms:7.1f} ms   count {count_ms:7.1f} ms"
                )
                if args.plans:
                    print(f"  -- page: {page_sql % tuple(repr(p) for p in page_params)}")
                    print("\n".join(f"     {line}" for line in page_plan if "Buffers:" not in line))
                    print("  -- count")
                    print("\n".join(f"     {line}" for line in count_plan if "Buffers:" not in line))


if __name__ == "__main__":
    main()
