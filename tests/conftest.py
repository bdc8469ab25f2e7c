"""Shared fixtures: a temporary warehouse with the real administrative divisions loaded."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import REFERENCE_DIR

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
    import os

    from dashboard_fixtures import build_sample_run, sample_run_from

    override = os.environ.get("IPCITY_TEST_SNAPSHOT")
    if override:
        yield sample_run_from(Path(override))
        return
    yield build_sample_run(tmp_path_factory.mktemp("sample_run"))
