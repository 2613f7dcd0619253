"""Serves Gongzhi with gunicorn on the benchmark database and measures pages under concurrent clients.

    .venv/bin/python bench/load.py                       # the default pages, 16 connections, 30 s each
    .venv/bin/python bench/load.py --duration 10 floor=/ping search=/api/v1/residents?q=王

Run bench/generate.py first. The script collects the static files (whitenoise's manifest storage needs
them with DEBUG=0), starts gunicorn on 127.0.0.1 in production mode with the generator's keys, signs in
as the generator's community worker (or street officer, --user officer), and drives each page with wrk
for a bounded time: a short warm-up, then the measured run with --connections clients, then a run with
one client for the unloaded latency. Every figure is printed and saved to bench/out/load-<time>.json.

Targets are NAME=PATH; the one named "floor" (by default /ping: the session and the signed-in user,
nothing else) is the reference for throughput. The goal: p95 under 150 ms and at least half the floor's
requests per second.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

import benchenv

DEFAULT_TARGETS = [
    "floor=/ping",
    "residents=/workbench/residents/",
    "search=/workbench/residents/?q=王",
    "live-search=/workbench/residents/?q=王@resident-results",
    "api-residents=/api/v1/residents",
    "api-search=/api/v1/residents?q=王",
]
GOAL_P95_MS = 150
GOAL_FLOOR_SHARE = 0.5
REPORTER = benchenv.ROOT / "bench" / "report.lua"


# The generated staff: community worker, street officer, district officer, compound leader.
USERS = {
    "worker": benchenv.WORKER_MOBILE,
    "officer": benchenv.OFFICER_MOBILE,
    "district": benchenv.DISTRICT_MOBILE,
    "compound": benchenv.COMPOUND_MOBILE,
    "resident": benchenv.RESIDENT_MOBILE,  # with a 2,000-entry passbook (bench/generate_ledger.py)
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="NAME=PATH",
        help=f"pages to measure (default: {' '.join(DEFAULT_TARGETS)})",
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients")
    parser.add_argument("--duration", type=int, default=30, help="seconds of each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of an unmeasured run before each")
    parser.add_argument("--single", type=int, default=5, help="seconds with one client (0 to skip)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--port", type=int, default=18731)
    parser.add_argument(
        "--app",
        default="gongzhi.wsgi",
        help="WSGI module for gunicorn; bench/ is on its path",
    )
    parser.add_argument("--user", choices=list(USERS), default="worker")
    parser.add_argument(
        "--roster-cache-seconds",
        type=int,
        help="the server's ROSTER_CACHE_SECONDS (0: each roster request builds its list; default: the app's)",
    )
    parser.add_argument(
        "--write-every",
        type=float,
        default=0,
        help="during each run, change a resident of the generated staff's community every so many seconds, "
        "which raises its roster version (0: no writes)",
    )
    parser.add_argument("--database-url", default=benchenv.DATABASE_URL)
    args = parser.parse_args()
    args.targets = [parse_target(target) for target in args.targets or DEFAULT_TARGETS]
    if not shutil.which("wrk"):
        parser.error("wrk is not installed: apt-get install -y wrk")
    return args


def parse_target(text: str) -> tuple[str, str, dict[str, str]]:
    """NAME=PATH, or NAME=PATH@ELEMENT for the HTMX request a page makes to swap the element ELEMENT (the
    live search asks for "resident-results" only)."""
    name, _, path = text.partition("=")
    if not path.startswith("/"):
        sys.exit(f"A target is NAME=PATH[@ELEMENT] with PATH starting with '/': {text!r}")
    path, _, element = path.partition("@")
    headers = {"HX-Request": "true", "HX-Target": element} if element else {}
    return name, quote(path, safe="/?=&%*+"), headers


# ---------------------------------------------------------------------------------------------------------
# The server


def start_server(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", args.port)) == 0:
            sys.exit(f"Port {args.port} is taken; choose another with --port.")
    subprocess.run(
        [str(benchenv.PYTHON), "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=benchenv.ROOT,
        env=env,
        check=True,
    )
    benchenv.OUT_DIR.mkdir(exist_ok=True)
    log = open(benchenv.OUT_DIR / "gunicorn.log", "w")  # noqa: SIM115  (closed with the server)
    command = [
        str(benchenv.ROOT / ".venv" / "bin" / "gunicorn"),
        args.app,
        "--pythonpath", str(benchenv.ROOT / "bench"),
        "--bind", f"127.0.0.1:{args.port}",
        "--workers", str(args.gunicorn_workers),
        "--worker-class", args.worker_class,
        "--threads", str(args.threads),
        "--backlog", "2048",
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=benchenv.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited; see {benchenv.OUT_DIR / 'gunicorn.log'}")
        try:
            status, _, _ = request(args.port, "GET", "/healthz")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(server)
    sys.exit("gunicorn did not answer /healthz within 30 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def request(port: int, method: str, path: str, *, body: str | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def sign_in(port: int, mobile: str, password: str) -> str:
    """Signs in through the login form and returns the Cookie header of the session."""
    status, headers, page = request(port, "GET", "/login/")
    cookies = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or match is None or "csrftoken" not in cookies:
        sys.exit(f"The login page answered {status} without a CSRF token.")
    form = urlencode(
        {"username": mobile, "password": password, "csrfmiddlewaretoken": match.group(1).decode()}
    )
    status, headers, _ = request(
        port,
        "POST",
        "/login/",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookies['csrftoken'].value}",
        },
    )
    for header in headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    if status != 302 or "sessionid" not in cookies:
        sys.exit(f"Signing in as {mobile} failed ({status}): did bench/generate.py run on this database?")
    return "; ".join(f"{name}={cookies[name].value}" for name in ("sessionid", "csrftoken"))


# ---------------------------------------------------------------------------------------------------------
# Measuring


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU time spent by the whole machine, by gunicorn (master and workers) and by the PostgreSQL backends
    serving the benchmark database. The last two do not depend on what else runs on the machine, so they
    give the cost of a request even when the machine is shared. (PostgreSQL's short-lived parallel workers
    are not counted.)"""

    def __init__(self, server: subprocess.Popen, database_url: str):
        self.server_pid = server.pid
        self.database_url = database_url

    @staticmethod
    def _process_ms(pid: int) -> tuple[int, float]:
        """(parent pid, user + system CPU in ms) of a live process, or (0, 0) if it is gone."""
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0, 0.0
        return int(fields[1]), (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICKS

    def _app_ms(self) -> float:
        total = self._process_ms(self.server_pid)[1]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                parent, ms = self._process_ms(int(entry))
                total += ms if parent == self.server_pid else 0
        return total

    def _db_ms(self) -> float:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            pids = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).fetchall()
        return sum(self._process_ms(pid)[1] for (pid,) in pids)

    def snapshot(self) -> dict:
        with open("/proc/stat") as stat:
            jiffies = [int(value) for value in stat.readline().split()[1:]]
        idle = jiffies[3] + jiffies[4]  # idle + iowait
        return {
            "busy": sum(jiffies) - idle,
            "total": sum(jiffies),
            "app_ms": self._app_ms(),
            "db_ms": self._db_ms(),
        }


class RosterWriter(threading.Thread):
    """Changes a resident of the generated staff's community (bench/out/generate.json) every `every` seconds,
    each in its own transaction, as staff at work do: the database raises the community's roster version, so
    the cached lists of everyone who sees it are rebuilt."""

    def __init__(self, database_url: str, every: float):
        super().__init__(daemon=True)
        self.database_url, self.every = database_url, every
        generated = json.loads((benchenv.OUT_DIR / "generate.json").read_text())
        self.community_id = generated["staff"]["community_id"]
        self.stopping = threading.Event()
        self.writes = 0

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            (resident,) = conn.execute(
                "SELECT min(id) FROM core_resident WHERE community_id = %s", [self.community_id]
            ).fetchone()
            while not self.stopping.wait(self.every):
                conn.execute("UPDATE core_resident SET updated_at = now() WHERE id = %s", [resident])
                self.writes += 1


def wrk(
    args: argparse.Namespace,
    meter: Meter,
    path: str,
    headers: dict[str, str],
    *,
    connections: int,
    seconds: int,
) -> dict:
    command = [
        "wrk",
        "--threads", str(min(args.wrk_threads, connections)),
        "--connections", str(connections),
        "--duration", f"{seconds}s",
        "--timeout", "10s",
        "--script", str(REPORTER),
        *(part for name, value in headers.items() for part in ("--header", f"{name}: {value}")),
        f"http://127.0.0.1:{args.port}{path}",
    ]  # fmt: skip
    writer = RosterWriter(args.database_url, args.write_every) if args.write_every else None
    before = meter.snapshot()
    if writer:
        writer.start()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if writer:
        writer.stopping.set()
        writer.join()
    after = meter.snapshot()
    line = next((line for line in finished.stdout.splitlines() if line.startswith("BENCH-RESULT ")), None)
    if finished.returncode != 0 or line is None:
        sys.exit(f"wrk failed on {path}:\n{finished.stdout}\n{finished.stderr}")
    result = json.loads(line.removeprefix("BENCH-RESULT "))
    done = result["requests"]

    def ms(key: str) -> float | None:
        # wrk's latencies cover completed requests only; with none completed there are none to report.
        return round(result[key] / 1000, 1) if done else None

    return {
        "connections": connections,
        "requests": done,
        "rps": round(done / (result["duration_us"] / 1e6), 1),
        **{f"{name}_ms": ms(f"{name}_us") for name in ("p50", "p90", "p95", "p99", "mean", "max")},
        "non_2xx": result["non_2xx"],
        "socket_errors": result["socket_errors"],
        "bytes_per_response": round(result["bytes"] / max(done, 1)),
        "cpu_busy": round((after["busy"] - before["busy"]) / max(after["total"] - before["total"], 1), 2),
        "app_cpu_ms_per_request": round((after["app_ms"] - before["app_ms"]) / max(done, 1), 2),
        "db_cpu_ms_per_request": round((after["db_ms"] - before["db_ms"]) / max(done, 1), 2),
        "roster_writes": writer.writes if writer else 0,
    }


def measure(
    args: argparse.Namespace, meter: Meter, name: str, path: str, headers: dict[str, str]
) -> dict | None:
    status, _, body = request(args.port, "GET", path, headers=headers)
    if status != 200:
        print(f"  {name}: {path} answered {status}; skipped", flush=True)
        return None
    swapping = f" swapping #{headers['HX-Target']}" if "HX-Target" in headers else ""
    print(f"  {name}: {path}{swapping} ({len(body):,} bytes) ...", flush=True)
    if args.warmup:
        wrk(args, meter, path, headers, connections=args.connections, seconds=args.warmup)
    figures = {
        "name": name,
        "path": path,
        "htmx_target": headers.get("HX-Target"),
        **wrk(args, meter, path, headers, connections=args.connections, seconds=args.duration),
    }
    if args.single:
        single = wrk(args, meter, path, headers, connections=1, seconds=args.single)
        figures.update(
            single_p50_ms=single["p50_ms"], single_p95_ms=single["p95_ms"], single_rps=single["rps"]
        )
    return figures


def shown(value) -> str:
    return "—" if value is None else str(value)


def report(results: list[dict], floor: dict | None) -> None:
    print(
        "\n| page | RPS | p50 ms | p95 ms | p99 ms | 1 client p50 ms | app CPU ms/req | DB CPU ms/req "
        "| vs floor | machine busy | goal |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in results:
        share = row["rps"] / floor["rps"] if floor else None
        row["share_of_floor"] = round(share, 2) if share is not None else None
        row["meets_goal"] = (
            row["p95_ms"] is not None
            and row["p95_ms"] < GOAL_P95_MS
            and (share is None or share >= GOAL_FLOOR_SHARE)
            and row["non_2xx"] == row["socket_errors"] == 0
        )
        print(
            f"| {row['name']} | {row['rps']:,.0f} | {shown(row['p50_ms'])} | {shown(row['p95_ms'])} | "
            f"{shown(row['p99_ms'])} | {shown(row.get('single_p50_ms'))} | {row['app_cpu_ms_per_request']} | "
            f"{row['db_cpu_ms_per_request']} | {'' if share is None else f'{share:.0%}'} | "
            f"{row['cpu_busy']:.0%} | {'met' if row['meets_goal'] else 'MISSED'} |"
        )
    for row in results:
        print(f"  {row['name']}: {row['path']} ({row['requests']:,} requests)")
        if row["non_2xx"] or row["socket_errors"]:
            print(
                f"    {row['non_2xx']} non-2xx answers, "
                f"{row['socket_errors']} requests timed out (10 s) or failed"
            )


def main() -> None:
    args = parse_args()
    env = benchenv.environment(args.database_url)
    if args.roster_cache_seconds is not None:
        env["ROSTER_CACHE_SECONDS"] = str(args.roster_cache_seconds)
    mobile = USERS[args.user]
    load_before = os.getloadavg()
    if load_before[0] > 1.0:
        print(f"Warning: the load average is {load_before[0]:.1f} before the run; other work will skew it.")
    server = start_server(args, env)
    try:
        cookie = sign_in(args.port, mobile, benchenv.PASSWORD)
        print(
            f"gunicorn {args.app}, {args.gunicorn_workers} x {args.worker_class} on 127.0.0.1:{args.port}, "
            f"signed in as {args.user}; {args.connections} connections, {args.duration} s per page",
            flush=True,
        )
        meter = Meter(server, args.database_url)
        results = [
            row
            for name, path, headers in args.targets
            if (row := measure(args, meter, name, path, {"Cookie": cookie, **headers}))
        ]
    finally:
        stop_server(server)
    floor = next((row for row in results if row["name"] == "floor"), None)
    report(results, floor)
    generated = benchenv.OUT_DIR / "generate.json"
    saved = {
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "user": args.user,
        "connections": args.connections,
        "duration_s": args.duration,
        "roster_cache_seconds": args.roster_cache_seconds,
        "write_every_s": args.write_every,
        "gunicorn": {
            "workers": args.gunicorn_workers,
            "worker_class": args.worker_class,
            "threads": args.threads,
        },
        "load_average_before": [round(value, 2) for value in load_before],
        "dataset": json.loads(generated.read_text())["rows"] if generated.exists() else None,
        "goal": {"p95_ms_below": GOAL_P95_MS, "share_of_floor_at_least": GOAL_FLOOR_SHARE},
        "results": results,
    }
    out = benchenv.OUT_DIR / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(saved, ensure_ascii=False, indent=2))
    print(f"\nSaved to {out.relative_to(benchenv.ROOT)}")


if __name__ == "__main__":
    main()
