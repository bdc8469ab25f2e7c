"""Concurrent load on the dashboard's heaviest callbacks, under a real multi-worker server.

Starts gunicorn (gthread workers) on 127.0.0.1 with the app factory over a published snapshot, with the heavy
callbacks' payload store (dashboards/payloads.py) in a throwaway folder; waits until /healthz says the payloads
are precomputed, warms every worker, then 50 concurrent users (threads, one HTTP session each) call the heaviest callbacks — profile,
overview, quality, compare (+ its trend) — the way the browser does (POST /_dash-update-component), each user
``--requests`` times in a random order. Prints per-callback median / p95 / max latency, response bytes, errors and
throughput. Baselines of the same run, same load, with ``IPCITY_PAYLOADS=off`` (every call built, memoised
per worker): the same gunicorn, and the threaded Werkzeug development server (the old ``ipcity serve``); every
figure is printed with its ratio to them. Target: p95 < 1 s, 0 errors.
Prints only; never asserts. Figures go to bench/RESULTS.md by hand.

    .venv/bin/python bench/bench_concurrent.py [--snapshot path] [--users 50] [--requests 6]
        [--workers 3] [--threads 8] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from dashboard_http import add_account, callback_body, login_session  # noqa: E402

TARGET_P95_S = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def heavy_cases(years: list[int], prog: list[str]) -> dict[str, callable]:
    units = [prog[i % len(prog)] for i in range(0, 60, 7)]

    def pick(seq, k):
        return seq[k % len(seq)]

    return {
        "profile": lambda k: callback_body(
            [
                ("pf-summary", "children"),
                ("pf-indicators", "figure"),
                ("pf-targets", "children"),
                ("pf-stage-fig", "figure"),
                ("pf-cycles", "children"),
                ("pf-stages", "children"),
                ("pf-alerts", "children"),
            ],
            [("pf-unit", "value", pick(units, k))],
            [("pf-lang", "data", "zh" if k % 2 else "en")],
        ),
        "overview": lambda k: callback_body(
            [
                ("ov-cards", "children"),
                ("ov-map", "figure"),
                ("ov-provinces", "rowData"),
                ("ov-dist", "figure"),
                ("ov-movers", "figure"),
            ],
            [("ov-year", "value", pick(years, k)), ("ov-map-mode", "value", "group" if k % 2 else "index")],
            [("ov-lang", "data", "zh")],
        ),
        "quality": lambda k: callback_body(
            [
                ("dq-cards", "children"),
                ("dq-checks", "children"),
                ("dq-rej-fig", "figure"),
                ("dq-rejections", "children"),
            ],
            [("dq-run", "value", None)],
            [("dq-lang", "data", "zh")],
        ),
        "compare": lambda k: callback_body(
            [
                ("cmp-radar", "figure"),
                ("cmp-table", "columnDefs"),
                ("cmp-table", "rowData"),
                ("cmp-heatmap", "figure"),
                ("cmp-sw", "children"),
                ("cmp-message", "children"),
            ],
            [("cmp-year", "value", pick(years, k)), ("cmp-units", "value", prog[k % 20 : k % 20 + 4])],
            [("cmp-lang", "data", "zh")],
        ),
        "compare trend": lambda k: callback_body(
            [("cmp-trend", "figure")],
            [("cmp-units", "value", prog[k % 20 : k % 20 + 4]), ("cmp-indicator", "value", "QLT01")],
            [("cmp-lang", "data", "en")],
        ),
    }


def start(
    kind: str, snapshot: Path, port: int, workers: int, threads: int, log: Path, access: Path, payload_dir: Path
) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    env.pop("IPCITY_PAYLOAD_STORE", None)
    if kind != "gunicorn":  # the baselines: every call computed (memoised per worker), as before precomputation
        env["IPCITY_PAYLOADS"] = "off"
    if kind.startswith("gunicorn"):
        store = f", payload_dir={str(payload_dir)!r}" if kind == "gunicorn" else ""
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
        cmd = [
            gunicorn,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "120",
            "--chdir",
            str(REPO),
            f"bench.dashboard_wsgi:server(snapshot={str(snapshot)!r}, access_dir={str(access)!r}{store})",
        ]
    else:  # the development server the old `ipcity serve` ran
        code = (
            "import sys; from pathlib import Path; from dashboards.app import create_app; "
            "a = Path(sys.argv[3]); create_app(Path(sys.argv[1]), user_store=a / 'users.sqlite', "
            "secret_key_file=a / 'secret_key').run(host='127.0.0.1', port=int(sys.argv[2]), debug=False, "
            "use_reloader=False, threaded=True)"
        )
        cmd = [sys.executable, "-c", code, str(snapshot), str(port), str(access)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{kind} did not start:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_precomputed(url: str, timeout: float = 900) -> float | None:
    """Seconds until /healthz reports every enumerable payload of the snapshot precomputed (None: not used)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        state = requests.get(url + "/healthz", timeout=10).json().get("payloads")
        if state in (None, "off", "ready"):
            return None if state in (None, "off") else time.perf_counter() - t0
        if state == "failed":
            raise RuntimeError("payload precompute failed (see the server log)")
        time.sleep(1)
    raise RuntimeError("payloads not precomputed in time")


def warm(url: str, cases: dict, rounds: int, session: requests.Session) -> None:
    """Every worker imports, registers the pages router and fills its query cache before timing starts."""
    for k in range(rounds):
        session.get(url + "/?lang=zh", timeout=60)
        session.get(url + "/geo/prefectures.json", timeout=60)
        for body_for in cases.values():
            session.post(url + "/_dash-update-component", json=body_for(k), timeout=120)


def load(url: str, cases: dict, users: int, per_user: int, seed: int = 7) -> tuple[dict, float, int]:
    """``users`` threads, each signed in as its own account (``bench_user<u>``: the dashboard bounds the heavy
    callbacks one account runs at once, dashboards.busy, so fifty users on one account would be one user's script;
    successful sign-ins do not count toward the sign-in form's limit), ``per_user`` calls each in a random order."""
    results: dict[str, list[tuple[float, int, bool]]] = {name: [] for name in cases}
    lock = threading.Lock()
    names = list(cases)
    barrier = threading.Barrier(users)

    def user(u: int) -> None:
        rng = random.Random(seed + u)
        session = sessions[u]
        barrier.wait()
        for i in range(per_user):
            name = rng.choice(names)
            body = json.dumps(cases[name](u * per_user + i))
            t0 = time.perf_counter()
            try:
                r = session.post(
                    url + "/_dash-update-component",
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=120,
                )
                ok, size = r.status_code == 200, len(r.content)
            except requests.RequestException:
                ok, size = False, 0
            dt = time.perf_counter() - t0
            with lock:
                results[name].append((dt, size, ok))

    sessions = [login_session(url, f"bench_user{u}") for u in range(users)]
    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return results, wall, users * per_user


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def summarise(results: dict) -> dict:
    out = {}
    for name, rows in results.items():
        if not rows:
            continue
        times = [r[0] for r in rows]
        out[name] = {
            "n": len(rows),
            "median": statistics.median(times),
            "p95": p95(times),
            "max": max(times),
            "bytes": max(r[1] for r in rows),
            "errors": sum(1 for r in rows if not r[2]),
        }
    every = [r[0] for rows in results.values() for r in rows]
    out["ALL"] = {
        "n": len(every),
        "median": statistics.median(every),
        "p95": p95(every),
        "max": max(every),
        "bytes": 0,
        "errors": sum(1 for rows in results.values() for r in rows if not r[2]),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--snapshot",
        type=Path,
        default=REPO / "bench" / "work" / "sample_run" / "published" / "warehouse.snapshot.duckdb",
    )
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--requests", type=int, default=6, help="calls per user")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--no-baseline", action="store_true", help="skip the Werkzeug development-server baseline")
    args = ap.parse_args()
    if not args.snapshot.exists():
        sys.exit(f"no snapshot at {args.snapshot}: run bench/bench_dashboard.py once (it builds the sample run)")

    from dashboards import queries
    from dashboards.snapshot import Snapshot

    snap = Snapshot(args.snapshot)
    years = queries.years(snap)
    prog = queries.rankings(snap, years[-1])["unit_code"].to_list()
    snap.close()
    cases = heavy_cases(years, prog)
    logs = REPO / "bench" / "work"
    logs.mkdir(parents=True, exist_ok=True)
    print(
        f"snapshot {args.snapshot} · {args.users} concurrent users × {args.requests} calls · "
        f"{os.cpu_count()} CPUs · load average {os.getloadavg()[0]:.1f} at start"
    )
    # a national-office account in a throwaway users store (every callback checks the signed-in role)
    access = Path(tempfile.mkdtemp(prefix="bench_access_"))
    add_account(access / "users.sqlite", "bench_national", "national")
    for u in range(args.users):  # one account per simulated user (see load)
        add_account(access / "users.sqlite", f"bench_user{u}", "national")
    runs = {}
    kinds = ["gunicorn"] + ([] if args.no_baseline else ["gunicorn-nostore", "werkzeug"])
    labels = {
        "gunicorn": f"gunicorn {args.workers} workers × {args.threads} threads, precomputed payloads",
        "gunicorn-nostore": f"gunicorn {args.workers} × {args.threads}, no payload store (baseline: built per call)",
        "werkzeug": "werkzeug dev server, no payload store (baseline: the old `ipcity serve`)",
    }
    for kind in kinds:
        port = free_port()
        payload_dir = Path(tempfile.mkdtemp(prefix="bench_payloads_"))
        proc = start(
            kind, args.snapshot, port, args.workers, args.threads, logs / f"concurrent_{kind}.log", access, payload_dir
        )
        try:
            url = f"http://127.0.0.1:{port}"
            signed_in = login_session(url, "bench_national")
            ready = wait_precomputed(url)
            if ready is not None:
                print(f"{kind}: payloads precomputed {ready:.0f} s after start")
            warm(url, cases, rounds=args.workers * 2, session=signed_in)
            load_before = os.getloadavg()[0]
            results, wall, n = load(url, cases, args.users, args.requests)
            runs[kind] = (summarise(results), wall, n)
        finally:
            stop(proc)
            shutil.rmtree(payload_dir, ignore_errors=True)
        summary, wall, n = runs[kind]
        print(
            f"\n{labels[kind]}: {n} calls in {wall:.1f} s = {n / wall:.1f} calls/s "
            f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)"
        )
        print(f"{'callback':16s} {'n':>4s} {'median':>8s} {'p95':>8s} {'max':>8s} {'bytes':>9s} {'errors':>6s}  p95<1s")
        for name, s in summary.items():
            ok = "yes" if s["p95"] < TARGET_P95_S and s["errors"] == 0 else "NO"
            print(
                f"{name:16s} {s['n']:4d} {s['median'] * 1000:7.0f}ms {s['p95'] * 1000:7.0f}ms "
                f"{s['max'] * 1000:7.0f}ms {s['bytes']:9d} {s['errors']:6d}  {ok}"
            )
    g, gw, gn = runs["gunicorn"]
    for base in ("gunicorn-nostore", "werkzeug"):
        if base not in runs:
            continue
        b, bw, bn = runs[base]
        print(f"\nratio precomputed gunicorn / {base} (same run, same load): ")
        print(f"  throughput ×{(gn / gw) / (bn / bw):.2f}")
        for name in g:
            if name in b:
                print(
                    f"  {name:16s} p95 ×{g[name]['p95'] / b[name]['p95']:.2f}   median ×{g[name]['median'] / b[name]['median']:.2f}"
                )


if __name__ == "__main__":
    main()
