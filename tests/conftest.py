"""Shared fixtures: a temporary warehouse with the real administrative divisions loaded."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import duckdb
import pytest

# In CI a skip is a failure unless allow-listed with a reason (tests/skip_policy.py, tests/skip_allowlist.txt).
from skip_policy import (  # noqa: F401 - pytest hooks, registered by being in this module
    in_ci,
    pytest_collectreport,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

from pipelines.settings import REFERENCE_DIR

SNAPSHOT_OVERRIDE = "IPCITY_TEST_SNAPSHOT"
# Tests write a landing file and run at once: no waiting for a copy to settle (pipelines/settings.py,
# landing_settle_seconds), unless a test sets it (tests/test_office_files_round8.py). Subprocesses inherit it.
os.environ.setdefault("IPCITY_LANDING_SETTLE_S", "0")
# The alert tests' webhook and robot receivers listen on 127.0.0.1: the loopback network is named as a deployment
# with an on-premise gateway names its own (pipelines/settings.py, alert_private_networks); tests of the default
# (no private network) unset it.
os.environ.setdefault("IPCITY_ALERT_PRIVATE_NETWORKS", "127.0.0.0/8,::1/128")


def pytest_configure(config):
    # A reused snapshot is an earlier run's output, not this code's: never acceptable as evidence in CI.
    if os.environ.get(SNAPSHOT_OVERRIDE) and in_ci():
        raise pytest.UsageError(
            f"{SNAPSHOT_OVERRIDE} is set while CI=true: the slow tests would check an old snapshot instead of "
            "this checkout's pipeline. Unset it."
        )


_TESTS_DIR = Path(__file__).resolve().parent
# Test files on the session's sample run (the browser suites, and every file naming its fixture): one worker
# runs them all, so the sample pipeline runs once per test session.
SAMPLE_RUN_FILES = frozenset(
    "tests/" + f.relative_to(_TESTS_DIR).as_posix()
    for f in _TESTS_DIR.rglob("test_*.py")
    if f.parent.name == "e2e" or "sample_snapshot" in f.read_text(encoding="utf-8")
)


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist (the README's test command runs the suite on every core) schedules whole files, so each
    module-scoped pipeline runs once, and all files on the session's sample run as one unit on one worker."""
    from xdist.scheduler import LoadScopeScheduling

    class SampleRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "sample_run" if path in SAMPLE_RUN_FILES else path

    return SampleRunScheduling(config, log)


def pytest_report_header(config):
    override = os.environ.get(SNAPSHOT_OVERRIDE)
    if override:
        return [
            f"!!! {SNAPSHOT_OVERRIDE}={override}: the sample-run tests read this EARLIER snapshot, not a run of "
            "this checkout (local iteration only; refused when CI=true) !!!"
        ]
    return []


CITY_COLUMNS = [
    "province_code",
    "province_name",
    "city_code",
    "city_name",
    "city_name_short",
    "level",
    "parent_code",
    "pinyin",
    "lng",
    "lat",
    "coord_note",
]


def write_cities_csv(path: Path) -> Path:
    """The 341 real prefecture-level units in the contract's columns (parent = province)."""
    rows = list(csv.DictReader(open(REFERENCE_DIR / "cities_prefecture_level_2023.csv", encoding="utf-8")))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CITY_COLUMNS)
        for r in rows:
            w.writerow(
                [
                    r["province_code"],
                    r["province_name"],
                    r["city_code"],
                    r["city_name"],
                    r["city_name_short"],
                    r["level"],
                    r["province_code"],
                    r["pinyin"],
                    r["lng"],
                    r["lat"],
                    r["coord_note"],
                ]
            )
    return path


@pytest.fixture
def smtp():
    """A real SMTP server on a loopback port (aiosmtpd) that keeps what it receives: the alert tests' mail."""
    from alert_receivers import SmtpSink

    s = SmtpSink().start()
    yield s
    s.stop()


@pytest.fixture
def warehouse(tmp_path):
    """A fresh DuckDB warehouse with raw.cities loaded."""
    from pipelines.ingest.load import ingest_file
    from pipelines.sources import SOURCES

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ingest_file(con, SOURCES["cities"], write_cities_csv(tmp_path / "ref" / "cities.csv"))
    yield con
    con.close()


@pytest.fixture(scope="session")
def sample_snapshot(tmp_path_factory):
    """A real published snapshot: sample data generated and run through the whole pipeline once per session
    (~1.5 min). Yields ``SampleRun(snapshot, dossier_dir, truth, dossiers)``; one dossier is written for a
    flagged city. ``IPCITY_TEST_SNAPSHOT=<dir>/published/x.snapshot.duckdb`` reuses an earlier run instead."""
    from dashboard_fixtures import build_sample_run, sample_run_from

    override = os.environ.get(SNAPSHOT_OVERRIDE)
    if override:
        if in_ci():  # pytest_configure already refuses this; a fixture used outside that path refuses too
            pytest.fail(f"{SNAPSHOT_OVERRIDE} is not allowed when CI=true")
        message = (
            f"{SNAPSHOT_OVERRIDE}={override}: sample-run tests use an EARLIER snapshot, not this checkout's pipeline"
        )
        warnings.warn(message, stacklevel=1)
        print(f"\n!!! {message} !!!", flush=True)
        yield sample_run_from(Path(override))
        return
    yield build_sample_run(tmp_path_factory.mktemp("sample_run"))
