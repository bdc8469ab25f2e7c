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


def pytest_configure(config):
    # A reused snapshot is an earlier run's output, not this code's: never acceptable as evidence in CI.
    if os.environ.get(SNAPSHOT_OVERRIDE) and in_ci():
        raise pytest.UsageError(
            f"{SNAPSHOT_OVERRIDE} is set while CI=true: the slow tests would check an old snapshot instead of "
            "this checkout's pipeline. Unset it."
        )


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook reads the groups
def pytest_collection_modifyitems(config, items):
    """Groups for pytest-xdist's ``--dist loadgroup`` (the README's test command runs the suite on every core):
    the tests on the session's sample run share one worker, so the sample pipeline runs once, and every other
    module stays on one worker, so its module-scoped pipeline runs once. Without xdist the marker is inert."""
    for item in items:
        uses_sample = {"sample_snapshot", "e2e_snapshot"} & set(getattr(item, "fixturenames", ()))
        group = "sample_run" if uses_sample else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


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
