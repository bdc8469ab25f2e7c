"""Server-side callback times of every dashboard page, against a real published snapshot: by default the sample
run (generate at scale 0.002, every one of the 341 prefecture-level units plus the county-level programme units,
2016–2025, then the whole pipeline), built once under bench/work/sample_run and reused afterwards.

Each callback is called the way the browser calls it (POST /_dash-update-component through the Flask test client),
so the time includes Dash's dispatch and JSON encoding of figures and grid rows. Two regimes:
  cold — the snapshot's query cache is emptied before every call (first visitor after a new publish);
  warm — cached query results for this snapshot version (everyone after that).
Target: p95 ≤ 150 ms. Prints only; never asserts.

    .venv/bin/python bench/bench_dashboard.py [--runs 30] [--snapshot path | --rebuild | --fixture]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from dashboard_fixtures import build_sample_run, build_snapshot  # noqa: E402
from dashboard_http import callback_body, page_body, rankings_body, signed_in_client  # noqa: E402

from dashboards import queries  # noqa: E402
from dashboards.app import create_app  # noqa: E402
from dashboards.components import SNAPSHOT_KEY  # noqa: E402

TARGET_MS = 150


def cases(snap, years: list[int]) -> dict[str, callable]:
    last = years[-1]
    prog = queries.rankings(snap, last)["unit_code"].to_list()
    units = [prog[i % len(prog)] for i in range(0, 60, 7)]

    def pick(seq, k):
        return seq[k % len(seq)]

    return {
        "page layout /": lambda k: page_body("/", "?lang=zh"),
        "page layout /compare": lambda k: page_body("/compare", "?lang=zh"),
        "page layout /profile": lambda k: page_body("/profile", f"?lang=en&unit={pick(units, k)}"),
        "overview": lambda k: callback_body(
            [
                ("ov-cards", "children"),
                ("ov-map", "figure"),
                ("ov-provinces", "rowData"),
                ("ov-dist", "figure"),
                ("ov-movers", "figure"),
            ],
            [("ov-year", "value", pick(years, k)), ("ov-map-mode", "value", "group")],
            [("ov-lang", "data", "zh")],
        ),
        "rankings": lambda k: rankings_body(pick(years, k), "zh"),
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
            [("pf-lang", "data", "zh")],
        ),
        "watchlist": lambda k: callback_body(
            [("wl-cards", "children"), ("wl-body", "children")],
            [("wl-year", "value", pick(years, k))],
            [("wl-lang", "data", "zh")],
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
        "downloads preview": lambda k: callback_body(
            [("dl-preview", "columnDefs"), ("dl-preview", "rowData"), ("dl-count", "children"), ("dl-link", "href")],
            [("dl-year", "value", pick(years, k)), ("dl-province", "value", "__all__"), ("dl-format", "value", "csv")],
            [("dl-lang", "data", "zh")],
        ),
        "download all cities xlsx": lambda k: callback_body(
            [("dl-download", "data"), ("dl-status", "children")],
            [("dl-button", "n_clicks", k + 1)],
            [
                ("dl-year", "value", pick(years, k)),
                ("dl-province", "value", "__all__"),
                ("dl-format", "value", "xlsx"),
                ("dl-lang", "data", "zh"),
            ],
        ),
    }


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--snapshot", type=Path, default=None, help="an existing published snapshot")
    ap.add_argument("--rebuild", action="store_true", help="run the sample pipeline again")
    ap.add_argument("--fixture", action="store_true", help="the hand-made test snapshot instead of a real run")
    args = ap.parse_args()

    path = args.snapshot
    if args.fixture:
        path = REPO / "bench" / "work" / "dashboard.snapshot.duckdb"
        build_snapshot(path)
        print(f"fixture snapshot: {path}")
    elif path is None:
        base = REPO / "bench" / "work" / "sample_run"
        path = base / "published" / "warehouse.snapshot.duckdb"
        if args.rebuild or not path.exists():
            if base.exists():
                shutil.rmtree(base)
            t0 = time.perf_counter()
            build_sample_run(base)
            print(f"sample run (generate + pipeline) in {time.perf_counter() - t0:.1f} s: {path}")
        else:
            print(f"reusing the sample run's snapshot {path} (--rebuild to run it again)")
    access = REPO / "bench" / "work" / "access"  # the bench's own users store (sign-in stays on)
    app = create_app(path, user_store=access / "users.sqlite", secret_key_file=access / "secret_key")
    client = signed_in_client(app, access / "users.sqlite", "bench_national")
    client.get("/")  # registers the pages router
    snap = app.server.config[SNAPSHOT_KEY]
    years = queries.years(snap)
    n_scored = queries.rankings(snap, years[-1], programme_only=False).height
    n_ranked = queries.rankings(snap, years[-1]).height
    n_units = queries.units(snap).height
    print(
        f"snapshot: {n_units} city units ({n_scored} with a composite, {n_ranked} ranked programme units) × "
        f"{len(years)} years ({years[0]}–{years[-1]}), {args.runs} runs each\n"
    )

    print(
        f"{'callback':28s} {'cold median':>12s} {'cold p95':>10s} {'warm median':>12s} {'warm p95':>10s}  "
        f"{'bytes':>9s}  p95≤{TARGET_MS}ms"
    )
    for name, body_for in cases(snap, years).items():
        timings = {"cold": [], "warm": []}
        size = 0
        for regime in ("cold", "warm"):
            for k in range(args.runs):
                body = json.dumps(body_for(k))
                if regime == "cold":
                    snap._cache.clear()
                else:
                    client.post("/_dash-update-component", data=body, content_type="application/json")
                t0 = time.perf_counter()
                r = client.post("/_dash-update-component", data=body, content_type="application/json")
                timings[regime].append((time.perf_counter() - t0) * 1000)
                if r.status_code not in (200, 204):
                    print(f"  {name}: HTTP {r.status_code} {r.data[:200]!r}")
                size = max(size, len(r.data))
        c, w = timings["cold"], timings["warm"]
        ok = "yes" if p95(c) <= TARGET_MS else ("warm only" if p95(w) <= TARGET_MS else "NO")
        print(
            f"{name:28s} {statistics.median(c):10.1f}ms {p95(c):8.1f}ms {statistics.median(w):10.1f}ms "
            f"{p95(w):8.1f}ms  {size:9d}  {ok}"
        )


if __name__ == "__main__":
    main()
