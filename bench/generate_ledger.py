"""Loads a points ledger at city scale into the benchmark database: 5,000,000 entries by default.

    .venv/bin/python bench/generate.py --matters 0          # first: the roster (any size)
    .venv/bin/python bench/generate_ledger.py               # 2,500,000 transactions, 5,000,000 entries
    .venv/bin/python bench/generate_ledger.py --entries 200000   # a quick run

It adds to the database bench/generate.py built (and refuses one that already holds ledger rows: the ledger
is append-only, so run generate.py again for a fresh one):

- each community's system accounts (issued, award budget, redeemed) and a passbook for a share of its
  residents aged 14-80 (the volunteers);
- about two years of transactions per community, in time order, played as the services would post them:
  verified hours and awards paid out of the award budget, the budget funded from the issued account whenever
  it runs short, redemptions from a passbook to the redeemed account when the balance allows, and now and then
  a cancelled redemption reversed (`reverses`). Every transaction has two entries summing to zero; activity is
  uneven (a few volunteers are very active);
- a resident account (benchenv.RESIDENT_MOBILE, password benchenv.PASSWORD) linked to a resident of the staff
  community whose passbook holds `--resident-entries` entries (2,000), for the passbook page;
- in every community an outlet with 16 items (1 point each, stock 10,000,000) for bench/redeem.py.

How, and what stays checked: transactions and entries are written with COPY from one process per core, in
chunks of 20,000 transactions, each chunk committed on its own. The ledger's triggers stay on: the deferred
constraint trigger checks at each commit that every transaction written balances (two or more entries summing
to zero), so the database itself verifies all of them; it needs the index on the entries' transaction, which
stays. The append-only triggers are untouched (nothing is updated or deleted). What is dropped during the load
and rebuilt afterwards from its own definition (as bench/generate.py does for the roster) is the rest: the
foreign keys of both tables (re-adding them validates every row), the unique keys on the idempotency key and
on `reverses` (rebuilding them checks uniqueness), and the passbook and account indexes. Each account's cached
balance is the running total the generator kept as it wrote the entries; `manage.py points_reconcile` then
recomputes every balance and every transaction's total from the entries and must find no drift: its time is
the "full reconcile" figure.
"""

import argparse
import datetime
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import benchenv
import psycopg
from generate import copy_rows, reattach_indexes

CHUNK = 20_000  # transactions per COPY and commit
FUNDING = 100_000  # points a community moves into its award budget when it runs short
ITEMS_PER_OUTLET = 16
ITEM_STOCK = 10_000_000
PASSBOOK_AGES = (14, 80)
ENTRY_INDEX_KEPT = "transaction_id"  # the balance trigger looks entries up by their transaction

HOURS_POINTS = (10, 15, 20, 20, 20, 25, 30, 30, 40, 60)  # per verified activity
AWARD_POINTS = (10, 20, 30, 50, 100)
PRICES = (2, 5, 5, 10, 15, 20, 20, 25, 30, 50, 80)
AWARD_REASONS = ("协助调解邻里纠纷", "帮助独居老人", "上报安全隐患", "优秀楼栋长", "社区环境整治积极分子")
FUNDED_MEMO = "Award budget funded"  # the services' gettext_noop msgid, translated when shown

# Shares of the steps of a passbook's life (the rest are verified hours).
P_REDEEM = 0.38
P_AWARD = 0.05
P_CANCEL = 0.012


@dataclass
class CommunityPlan:
    community_id: int
    issued: int
    budget: int
    redeemed: int
    passbooks: list[int]  # account ids
    transactions: int  # steps, not counting the budget fundings
    first_id: int  # its block of transaction ids
    block: int
    resident_account: int | None = None  # the bench resident's, in the staff community
    resident_steps: int = 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=5_000_000, help="ledger entries (two per transaction)")
    parser.add_argument("--volunteers", type=float, default=0.35, help="share of residents with a passbook")
    parser.add_argument("--resident-entries", type=int, default=2_000, help="the bench resident's passbook")
    parser.add_argument("--days", type=int, default=730, help="how far back the ledger goes")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=benchenv.DATABASE_URL)
    parser.add_argument("--no-reconcile", action="store_true", help="skip the timed points_reconcile")
    args = parser.parse_args()
    if args.entries < 2 * args.resident_entries + 1000:
        parser.error("--entries must leave room for the resident's passbook")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the benchmark database's name must contain 'bench'")
    return args


# ---------------------------------------------------------------------------------------------------------
# Schema: what is dropped during the load and put back afterwards


def detach(conn: psycopg.Connection, tables: list[str], keep: set[str]) -> tuple[list[str], list[str]]:
    """Drops the foreign keys, unique constraints and secondary indexes of `tables`, except the indexes
    named in `keep`; returns the statements that put them back (indexes and unique keys, foreign keys)."""
    indexes, foreign_keys = [], []
    for table in tables:
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
            if name not in keep:
                conn.execute(f"DROP INDEX {name}")
                indexes.append(definition)
    conn.commit()
    return indexes, foreign_keys


def entry_transaction_index(conn: psycopg.Connection, table: str) -> str:
    row = conn.execute(
        "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
        " WHERE i.indrelid = %s::regclass AND i.indnatts = 1 AND a.attname = %s",
        [table, ENTRY_INDEX_KEPT],
    ).fetchone()
    if row is None:
        sys.exit(f"{table} has no index on {ENTRY_INDEX_KEPT}; the balance trigger needs one.")
    return row[0]


# ---------------------------------------------------------------------------------------------------------
# The plan, in the main process


def plan_ledger(args, conn: psycopg.Connection, staff_community: int, resident_id: int):
    """Accounts (ids assigned here, rows returned for COPY) and each community's share of the transactions."""
    from gongzhi.volunteering.models import PointsAccount

    rng = random.Random(f"{args.seed}:ledger-plan")
    today = datetime.date.today()
    youngest = today - datetime.timedelta(days=365 * PASSBOOK_AGES[0])
    oldest = today - datetime.timedelta(days=365 * (PASSBOOK_AGES[1] + 1))
    by_community: dict[int, list[int]] = {}
    for resident, community in conn.execute(
        "SELECT id, community_id FROM core_resident WHERE birth_date BETWEEN %s AND %s ORDER BY id",
        [oldest, youngest],
    ):
        by_community.setdefault(community, []).append(resident)
    first_account = conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {PointsAccount._meta.db_table}")
    next_account = first_account.fetchone()[0]
    now = datetime.datetime.now(datetime.UTC)
    accounts, plans = [], []
    volunteers = 0
    for community in sorted(by_community):
        residents = by_community[community]
        chosen = rng.sample(residents, max(1, round(len(residents) * args.volunteers)))
        if community == staff_community and resident_id not in chosen:
            chosen.append(resident_id)
        chosen.sort()
        system = {}
        for kind in ("issued", "award_budget", "redeemed"):
            accounts.append((next_account, kind, 0, now, community, None))
            system[kind] = next_account
            next_account += 1
        passbooks = []
        for resident in chosen:
            accounts.append((next_account, "resident", 0, now, community, resident))
            if resident == resident_id:
                resident_account = next_account
            passbooks.append(next_account)
            next_account += 1
        volunteers += len(chosen)
        plans.append(
            CommunityPlan(
                community_id=community,
                issued=system["issued"],
                budget=system["award_budget"],
                redeemed=system["redeemed"],
                passbooks=passbooks,
                transactions=0,
                first_id=0,
                block=0,
            )
        )
    # Transactions in proportion to each community's volunteers; the bench resident's on top.
    total = args.entries // 2 - args.resident_entries
    for plan in plans:
        plan.transactions = total * len(plan.passbooks) // volunteers
    plans[0].transactions += total - sum(plan.transactions for plan in plans)
    staff = next(plan for plan in plans if plan.community_id == staff_community)
    staff.resident_account, staff.resident_steps = resident_account, args.resident_entries
    return accounts, plans


def assign_blocks(plans: list[CommunityPlan], first_id: int) -> None:
    """A block of transaction ids per community, with room for the fundings (ids past them stay unused)."""
    next_id = first_id
    for plan in plans:
        steps = plan.transactions + plan.resident_steps
        plan.first_id, plan.block = next_id, steps + steps // 50 + 100
        next_id += plan.block


# ---------------------------------------------------------------------------------------------------------
# Worker processes: each plays and copies whole communities

_worker: dict = {}


def _worker_init(database_url: str, seed: int, days: int, tables: dict) -> None:
    _worker["conn"] = psycopg.connect(database_url)
    _worker["conn"].execute("SET synchronous_commit = off")
    _worker.update(seed=seed, days=days, tables=tables, now=datetime.datetime.now(datetime.UTC))


def _memos() -> tuple[list[str], list[str]]:
    from gongzhi.volunteering.demo import OUTLETS, PAST

    return [plan.title for plan in PAST], [item.name for *_, items in OUTLETS for item in items]


def load_community(plan: CommunityPlan) -> dict:
    """Plays two years of one community's ledger and copies it; returns the final balances and counts."""
    conn, tables = _worker["conn"], _worker["tables"]
    rng = random.Random(f"{_worker['seed']}:ledger:{plan.community_id}")
    activity_titles, item_names = _memos()
    now = _worker["now"]
    start = now - datetime.timedelta(days=_worker["days"])
    span = (now - start).total_seconds()
    steps = plan.transactions + plan.resident_steps
    offsets = sorted(rng.random() * span for _ in range(steps))
    # Uneven activity: Pareto weights, so that a few volunteers account for much of it. The bench resident
    # has exactly their own steps (and the reversals of their cancelled redemptions).
    volunteers = [account for account in plan.passbooks if account != plan.resident_account]
    weights, total = [], 0.0
    for _ in volunteers:
        total += rng.paretovariate(1.2)
        weights.append(total)
    picks = iter(rng.choices(volunteers, cum_weights=weights, k=plan.transactions))
    resident_steps = set(rng.sample(range(steps), plan.resident_steps)) if plan.resident_steps else set()

    balance = dict.fromkeys([plan.issued, plan.budget, plan.redeemed, *plan.passbooks], 0)
    recent: list[tuple[int, int, int, str]] = []  # redemptions that may yet be cancelled
    transactions, entries = [], []
    next_id, last_id = plan.first_id, plan.first_id + plan.block
    counts = {"transactions": 0, "entries": 0, "fundings": 0, "reversals": 0}

    def post(key: str, memo: str, at: datetime.datetime, legs, reverses: int | None = None) -> int:
        nonlocal next_id
        if next_id >= last_id:
            raise RuntimeError(f"community {plan.community_id} ran out of transaction ids")
        txn = next_id
        next_id += 1
        transactions.append((txn, key, memo, at, reverses))
        for account, amount in legs:
            balance[account] += amount
            entries.append((txn, account, amount, at))
        return txn

    def flush() -> None:
        copy_rows(
            conn,
            tables["transaction"],
            ["id", "idempotency_key", "memo", "created_at", "reverses"],
            transactions,
        )
        copy_rows(conn, tables["entry"], ["transaction", "account", "amount", "created_at"], entries)
        conn.commit()  # the deferred balance trigger checks every transaction of the chunk here
        counts["transactions"] += len(transactions)
        counts["entries"] += len(entries)
        transactions.clear()
        entries.clear()

    for step, offset in enumerate(offsets):
        at = start + datetime.timedelta(seconds=offset)
        account = plan.resident_account if step in resident_steps else next(picks)
        roll = rng.random()
        if roll < P_CANCEL and recent:
            original, holder, amount, memo = recent.pop(rng.randrange(len(recent)))
            post(
                f"redeem-cancel:{original}", memo, at, [(plan.redeemed, -amount), (holder, amount)], original
            )
            counts["reversals"] += 1
        elif roll < P_CANCEL + P_REDEEM and balance[account] >= PRICES[0]:
            price = rng.choice([p for p in PRICES if p <= balance[account]])
            quantity = 2 if price <= 5 and rng.random() < 0.3 else 1
            quantity = quantity if price * quantity <= balance[account] else 1
            name = rng.choice(item_names)
            memo = f"{name} ×{quantity}" if quantity > 1 else name
            txn = post(
                f"redeem:bench:{next_id}",
                memo,
                at,
                [(account, -price * quantity), (plan.redeemed, price * quantity)],
            )
            recent.append((txn, account, price * quantity, memo))
            del recent[:-50]
        else:
            is_award = roll > 1 - P_AWARD
            amount = rng.choice(AWARD_POINTS if is_award else HOURS_POINTS)
            if balance[plan.budget] < amount:
                post(
                    f"bench:fund:{next_id}",
                    FUNDED_MEMO,
                    at,
                    [(plan.issued, -FUNDING), (plan.budget, FUNDING)],
                )
                counts["fundings"] += 1
            memo = rng.choice(AWARD_REASONS if is_award else activity_titles)
            key = (
                f"bench:award:{next_id}"
                if is_award
                else f"activity:bench:{next_id}:volunteer:{account}:hours"
            )
            post(key, memo, at, [(plan.budget, -amount), (account, amount)])
        if len(transactions) >= CHUNK:
            flush()
    flush()
    assert all(amount >= 0 for account, amount in balance.items() if account != plan.issued)
    return {"balances": balance, **counts}


# ---------------------------------------------------------------------------------------------------------


def bench_resident(staff_community: int) -> int:
    """The resident account of the staff community (created once; linked to an adult of it)."""
    from django.utils import timezone

    from gongzhi.core.models import Resident, User

    try:
        user = User.objects.get_by_natural_key(benchenv.RESIDENT_MOBILE)
    except User.DoesNotExist:
        user = None
    today = datetime.date.today()
    if user is None:
        resident = (
            Resident.objects.filter(
                community_id=staff_community,
                user=None,
                birth_date__lte=today - datetime.timedelta(days=365 * 30),
                birth_date__gte=today - datetime.timedelta(days=365 * 60),
            )
            .order_by("id")
            .first()
        )
        user = User.objects.create_user(benchenv.RESIDENT_MOBILE, benchenv.PASSWORD, name=resident.name)
        Resident.objects.filter(pk=resident.pk).update(user=user, verified_at=timezone.now())
    return Resident.objects.get(user=user).pk


def supermarket(plans: list[CommunityPlan]) -> int:
    """An outlet with ITEMS_PER_OUTLET items in every community, for bench/redeem.py. Written through the
    models (validated), since the benchmark's staff may manage only their own community."""
    from gongzhi.volunteering.models import Item, Outlet

    _titles, names = _memos()
    made = 0
    for plan in plans:
        outlet = Outlet(community_id=plan.community_id, name="社区积分超市", kind=Outlet.Kind.OFFICE)
        outlet.full_clean()
        outlet.save()
        items = [
            Item(
                outlet=outlet,
                name=f"{names[k % len(names)]}（基准{k + 1}）",
                unit="份",
                price=1,
                stock=ITEM_STOCK,
            )
            for k in range(ITEMS_PER_OUTLET)
        ]
        for item in items:
            item.full_clean()
        Item.objects.bulk_create(items)
        made += len(items)
    return made


def reconcile(env: dict[str, str]) -> dict:
    """Times `manage.py points_reconcile` as cron would run it (a new process: Python and Django start-up
    included), then its two queries alone (`selectors.ledger_drift`, in this process)."""
    from gongzhi.volunteering.selectors import ledger_drift

    started = time.monotonic()
    finished = subprocess.run(
        [str(benchenv.PYTHON), "manage.py", "points_reconcile"],
        cwd=benchenv.ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    started = time.monotonic()
    drift = ledger_drift()
    queries = time.monotonic() - started
    return {
        "seconds": round(seconds, 1),
        "exit_status": finished.returncode,
        "output": (finished.stdout + finished.stderr).strip()[-2000:],
        "ledger_drift_seconds": round(queries, 1),
        "drift": {"accounts": len(drift.accounts), "transactions": len(drift.transactions)},
    }


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from gongzhi.core.models import RoleAssignment, User
    from gongzhi.volunteering.models import LedgerEntry, LedgerTransaction, PointsAccount

    started = time.monotonic()
    worker = User.objects.get_by_natural_key(benchenv.WORKER_MOBILE)
    staff_community = RoleAssignment.objects.get(user=worker, role="community_worker").region_id
    with psycopg.connect(args.database_url) as conn:
        if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {LedgerTransaction._meta.db_table})").fetchone()[0]:
            sys.exit("The benchmark database already holds a ledger; run bench/generate.py for a fresh one.")
    resident_id = bench_resident(staff_community)

    tables = {"transaction": LedgerTransaction, "entry": LedgerEntry}
    transaction_table, entry_table = LedgerTransaction._meta.db_table, LedgerEntry._meta.db_table
    with psycopg.connect(args.database_url) as conn:
        accounts, plans = plan_ledger(args, conn, staff_community, resident_id)
        copy_rows(
            conn, PointsAccount, ["id", "kind", "balance", "created_at", "community", "resident"], accounts
        )
        conn.commit()
        first_id = conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {transaction_table}").fetchone()[0]
        assign_blocks(plans, first_id)
        kept = entry_transaction_index(conn, entry_table)
        indexes, foreign_keys = detach(conn, [transaction_table, entry_table], keep={kept})
    connection.close()
    planned = time.monotonic()
    print(
        f"{len(accounts):,} accounts ({len(accounts) - 3 * len(plans):,} passbooks) "
        f"in {len(plans)} communities; "
        f"loading {args.entries // 2:,} transactions with {args.workers} processes ...",
        flush=True,
    )

    balances: dict[int, int] = {}
    counts = {"transactions": 0, "entries": 0, "fundings": 0, "reversals": 0}
    context = multiprocessing.get_context("fork")
    initargs = (args.database_url, args.seed, args.days, tables)
    with context.Pool(args.workers, _worker_init, initargs) as pool:
        # Largest first, so that the last process to finish does not start a big community late.
        order = sorted(plans, key=lambda plan: -(plan.transactions + plan.resident_steps))
        for done, result in enumerate(pool.imap_unordered(load_community, order), start=1):
            balances.update(result.pop("balances"))
            counts = {key: counts[key] + result[key] for key in counts}
            if done % max(1, len(plans) // 10) == 0 or done == len(plans):
                elapsed = time.monotonic() - planned
                print(
                    f"  {done}/{len(plans)} communities, {counts['entries']:,} entries, "
                    f"{counts['entries'] / elapsed:,.0f} entries/s",
                    flush=True,
                )
    loaded = time.monotonic()

    print(f"Rebuilding {len(indexes)} indexes and {len(foreign_keys)} foreign keys ...", flush=True)
    reattach_indexes(args.database_url, indexes, foreign_keys, args.workers)
    with psycopg.connect(args.database_url) as conn:
        for table in (transaction_table, PointsAccount._meta.db_table):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        # The balances the generator kept, entry by entry: points_reconcile checks them against the entries.
        conn.execute(
            "CREATE TEMPORARY TABLE ledger_balance (id bigint PRIMARY KEY, balance bigint) ON COMMIT DROP"
        )
        with conn.cursor().copy("COPY ledger_balance (id, balance) FROM STDIN") as copy:
            for row in balances.items():
                copy.write_row(row)
        conn.execute(
            f"UPDATE {PointsAccount._meta.db_table} a SET balance = b.balance FROM ledger_balance b"
            " WHERE a.id = b.id AND b.balance <> 0"
        )
        conn.commit()
    items = supermarket(plans)
    connection.close()
    indexed = time.monotonic()
    print("VACUUM ANALYZE ...", flush=True)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        for model in (PointsAccount, LedgerTransaction, LedgerEntry):
            conn.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
        resident_account = conn.execute(
            f"SELECT id, balance FROM {PointsAccount._meta.db_table} WHERE resident_id = %s", [resident_id]
        ).fetchone()
        resident_entries = conn.execute(
            f"SELECT count(*) FROM {entry_table} WHERE account_id = %s", [resident_account[0]]
        ).fetchone()[0]
    vacuumed = time.monotonic()
    reconciled = None if args.no_reconcile else reconcile(env)
    if reconciled:
        print(
            f"points_reconcile: {reconciled['seconds']} s, exit {reconciled['exit_status']}: "
            f"{reconciled['output']}"
        )

    summary = {
        "rows": {"accounts": len(accounts), **counts, "items": items},
        "communities": len(plans),
        "passbooks": len(accounts) - 3 * len(plans),
        "resident": {
            "mobile": benchenv.RESIDENT_MOBILE,
            "password": benchenv.PASSWORD,
            "resident_id": resident_id,
            "account_id": resident_account[0],
            "balance": resident_account[1],
            "entries": resident_entries,
            "community_id": staff_community,
        },
        "seconds": {
            "plan_and_accounts": round(planned - started, 1),
            "copy": round(loaded - planned, 1),
            "indexes_foreign_keys_balances_items": round(indexed - loaded, 1),
            "vacuum_analyze": round(vacuumed - indexed, 1),
            "total_load": round(vacuumed - started, 1),
        },
        "entries_per_second_in_copy": round(counts["entries"] / (loaded - planned)),
        "points_reconcile": reconciled,
        "workers": args.workers,
    }
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    (benchenv.OUT_DIR / "generate_ledger.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    if reconciled and reconciled["exit_status"] != 0:
        sys.exit("points_reconcile found drift.")


if __name__ == "__main__":
    main()
