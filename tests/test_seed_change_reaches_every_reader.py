"""Change a performance band and labels in their seeds — in a copy of the project — run the real pipeline there, and
see the marts, the dossier, the alerts and the dashboard all change with them. Nothing below is a copied
number or label: the old values come from this checkout's seeds, the new ones are derived from them.

Cost: one real pipeline run on the smallest sample that still has every reader's case (a bottom group, lagging
targets, units that did not report): 2020-2025 at scale 0.001, independent of the session's sample run so it runs beside it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from email import policy
from email.parser import BytesParser
from pathlib import Path

import duckdb
import pytest

from pipelines.labels import load_bands, load_labels, performance_group, published_index
from pipelines.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

_TOOLING = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", "target", "logs", "*.egg-info", ".pytest_cache", "bench"
)
# generated data (the default warehouse folder): skipped there only, so that packages that share a name with a
# data folder (pipelines/alerts) are copied
_GENERATED = shutil.ignore_patterns(
    "warehouse*.duckdb*", "published", "landing", "dagster_home", "dossiers", "alerts", "artifacts", "extracts"
)


def IGNORE(directory: str, names: list[str]) -> set[str]:  # noqa: N802 (shutil's ignore callable)
    skipped = set(_TOOLING(directory, names))
    if Path(directory).resolve() == (PROJECT_ROOT / "data").resolve():
        skipped |= set(_GENERATED(directory, names))
    return skipped


def _rewrite(path: Path, change) -> None:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
        fields = list(rows[0])
    for r in rows:
        change(r)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def _run(project: Path, env: dict, code: str) -> str:
    # a script file, not `python -c`: pyspark (imported by GX) takes a main module without a file for a doctest
    # run and exits
    fd, script = tempfile.mkstemp(suffix=".py", dir=project.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(code)
    proc = subprocess.run([sys.executable, script], cwd=project, env=env, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def changed_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("seed_change")
    project = base / "project"
    shutil.copytree(PROJECT_ROOT, project, ignore=IGNORE)
    seeds = project / "dbt_project" / "seeds"
    bands = load_bands()
    # the band just above the bottom one now starts halfway up to the band above it
    lower, upper = bands[-2], bands[-3]
    new_floor = round((lower.lower_bound + upper.lower_bound) / 2)
    _rewrite(
        seeds / "performance_bands.csv",
        lambda r: r.update(lower_bound=str(new_floor)) if r["group_code"] == lower.group_code else None,
    )
    labels = load_labels()
    renamed = {
        code: labels[code].name_zh + "（测试）"
        # not_reported, not late: a fresh run's history is backfilled (no receipt times to be late by), and the
        # units without a report still fire source_reporting alerts
        for code in (bands[-1].group_code, "deteriorating", "limited_progress", "not_reported", "watch")
    }
    _rewrite(seeds / "labels.csv", lambda r: r.update(name_zh=renamed[r["code"]]) if r["code"] in renamed else None)

    run = base / "run"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IPCITY_")},
        "PYTHONPATH": str(project),
        "IPCITY_WAREHOUSE": str(run / "warehouse.duckdb"),
        "DAGSTER_HOME": str(run / "dagster_home"),
    }
    _run(
        project,
        env,
        "from pathlib import Path; from pipelines.generate import generate; from pipelines.launcher import run_pipeline;"
        f"generate(Path({str(run / 'landing')!r}), seed=42, scale=0.001, first_year=2020, history_first_year=2020);"
        "s = run_pipeline(); assert s.success, s.runs",
    )
    snapshot = run / "published" / "warehouse.snapshot.duckdb"
    assert snapshot.is_file()
    return {
        "project": project,
        "env": env,
        "snapshot": snapshot,
        "run": run,
        "lower": lower,
        "new_floor": new_floor,
        "renamed": renamed,
        "bands_file": seeds / "performance_bands.csv",
    }


def _q(path: Path, sql: str, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_marts_follow_the_changed_band(changed_run):
    old_floor, new_floor = changed_run["lower"].lower_bound, changed_run["new_floor"]
    sql = "select unit_code, year, composite_index, performance_group_all from marts.fct_city_score_year"
    changed = {(u, y): (i, g) for u, y, i, g in _q(changed_run["snapshot"], sql)}
    # every group in the changed run is the changed seed's band of the index
    bands_file = changed_run["bands_file"]
    assert all(g == performance_group(i, bands_file) for i, g in changed.values())
    # and the units between the old and the new floor, in the lower band under this checkout's seed, are not
    # in it any more (judged on the published index, as the bands are: methodology §6)
    moved = [k for k, (i, g) in changed.items() if i is not None and old_floor <= published_index(i) < new_floor]
    assert moved, "the sample has no index between the old and the new bound"
    for k in moved:
        assert performance_group(changed[k][0]) == changed_run["lower"].group_code
        assert changed[k][1] != changed_run["lower"].group_code
    # the seed is published with the marts
    published = dict(_q(changed_run["snapshot"], "select group_code, lower_bound from marts.performance_bands"))
    assert published[changed_run["lower"].group_code] == new_floor


def test_labels_reach_the_published_marts(changed_run):
    published = dict(_q(changed_run["snapshot"], "select code, name_zh from marts.labels"))
    for code, name in changed_run["renamed"].items():
        assert published[code] == name


def test_alerts_use_the_changed_labels(changed_run):
    rows = _q(changed_run["snapshot"], "select alert_type, status, message from marts.fct_alerts")
    labelled = [(t, s, m) for t, s, m in rows if s in changed_run["renamed"]]
    # target-status and reporting alerts at least (the stage alerts carry the stage label too when one fires)
    assert {"behind_target", "source_reporting"} <= {t for t, _, _ in labelled}, rows[:20]
    for _, status, message in labelled:
        assert changed_run["renamed"][status] in message
    # and so do the messages sent (MIME-encoded: read as a mail client does)
    outbox = list((changed_run["run"] / "alerts" / "outbox").glob("*.eml"))
    assert outbox
    assert any(any(n in _mail_text(p) for n in changed_run["renamed"].values()) for p in outbox)


def _mail_text(path: Path) -> str:
    msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    parts = [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
    return "\n".join([str(msg["subject"]), *parts])


def test_dossier_uses_the_changed_band_and_label(changed_run, tmp_path):
    (unit, year), *_ = _q(
        changed_run["snapshot"],
        "select unit_code, year from marts.fct_evaluation_year where performance_group = ? order by year desc, unit_code",
        [load_bands()[-1].group_code],
    )
    out = _run(
        changed_run["project"],
        changed_run["env"],
        "from pipelines.evaluation.dossier import write_dossier;"
        f"print([str(p) for p in write_dossier({str(changed_run['snapshot'])!r}, {unit!r}, {year}, {str(tmp_path)!r})])",
    )
    html = next(Path(p) for p in eval(out.strip().splitlines()[-1]) if p.endswith(".html")).read_text(encoding="utf-8")
    bottom = changed_run["renamed"][load_bands()[-1].group_code]
    assert bottom in html
    assert f"{bottom}组 {changed_run['new_floor']}" in html


def test_dashboard_shows_the_changed_labels(changed_run, tmp_path):
    code = (
        "import json, sys; sys.path.insert(0, 'tests');"
        "from dashboard_http import rankings_body, signed_in_client; from dashboards.app import create_app;"
        # the dashboard requires an account (issue 14): a national user signed in through the real form
        f"app = create_app({str(changed_run['snapshot'])!r}, user_store={str(tmp_path / 'users.sqlite')!r},"
        f" secret_key_file={str(tmp_path / 'secret_key')!r});"
        f"c = signed_in_client(app, {str(tmp_path / 'users.sqlite')!r});"
        "import duckdb;"
        f"con = duckdb.connect({str(changed_run['snapshot'])!r}, read_only=True);"
        "year = con.execute('select max(year) from marts.fct_city_score_year').fetchall()[0][0]; con.close();"
        "r = c.post('/_dash-update-component', data=json.dumps(rankings_body(year)), content_type='application/json');"
        "print(json.dumps(r.get_json()['response']['rk-grid']['rowData'], ensure_ascii=False))"
    )
    rows = json.loads(_run(changed_run["project"], changed_run["env"], code).strip().splitlines()[-1])
    bottom_code = load_bands()[-1].group_code
    shown = {r["group_label"] for r in rows if r.get("performance_group") == bottom_code}
    assert shown == {changed_run["renamed"][bottom_code]}
