"""The publish steps' fast paths write exactly what the one-at-a-time paths write: ``extracts.write_all`` with its
pool of worker processes gives the same files, versions and content hashes as a serial run (and as
``write_extract`` province by province), a script without a ``__main__`` guard can call it, and
``write_dossiers`` (every table read once for the batch) gives the same bytes as ``write_dossier`` per city."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import duckdb
import pytest

from pipelines import extracts as X
from pipelines.evaluation.dossier import flagged_unit_years, write_dossier, write_dossiers
from pipelines.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _last_year(snapshot) -> int:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return X.released_years(con)[-1]


def _tree(root) -> dict[str, bytes]:
    """Every file under ``root`` by relative path; manifests without their generation time, workbooks left out
    (their zip carries the time of writing: their sheets are compared in test_extracts)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix == ".xlsx":
            continue
        data = p.read_bytes()
        if p.name == "versions.json":
            v = json.loads(data)
            for e in v["versions"]:
                e.pop("generated_at")
            data = json.dumps(v, sort_keys=True).encode()
        out[str(p.relative_to(root))] = data
    return out


def test_pooled_extracts_equal_serial_and_one_by_one(sample_snapshot, tmp_path, monkeypatch):
    snap = sample_snapshot.snapshot
    year = _last_year(snap)
    monkeypatch.setattr(X, "MIN_PARALLEL", 2)  # every province of the year through the pool
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "2")
    pooled = X.write_all(snap, tmp_path / "pooled", years=[year])
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "1")
    serial = X.write_all(snap, tmp_path / "serial", years=[year])
    with duckdb.connect(str(snap), read_only=True) as con:
        codes = X.province_codes(con)
        single = [X.write_extract(con, tmp_path / "single", code, year) for code in codes]
    assert len(pooled) == len(codes) > 2
    for a, b, c in zip(pooled, serial, single, strict=True):
        assert (a["province_code"], a["version"], a["content_hash"]) == (
            b["province_code"],
            b["version"],
            b["content_hash"],
        )
        assert (a["province_code"], a["version"], a["content_hash"]) == (
            c["province_code"],
            c["version"],
            c["content_hash"],
        )
        assert a["files"] == b["files"] == c["files"]
    files = _tree(tmp_path / "pooled")
    assert files == _tree(tmp_path / "serial") == _tree(tmp_path / "single")
    assert any(name.endswith(".csv") for name in files) and any(name.endswith(".parquet") for name in files)
    # a second pooled run finds nothing new
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "2")
    assert X.write_all(snap, tmp_path / "pooled", years=[year]) == []


def test_a_script_without_a_main_guard_can_use_the_pool(sample_snapshot, tmp_path):
    """'spawn' workers re-run the parent's main script unless it is hidden from them: this one would write its
    marker once per worker and start the pool again in each."""
    snap = sample_snapshot.snapshot
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys
            sys.path.insert(0, {str(PROJECT_ROOT)!r})
            from pathlib import Path
            from pipelines import extracts as X
            os.environ["IPCITY_EXTRACT_WORKERS"] = "2"
            X.MIN_PARALLEL = 2
            print("MARKER", flush=True)
            print(len(X.write_all(Path({str(snap)!r}), Path({str(tmp_path / "out")!r}), years=[{_last_year(snap)}])))
            """
        ),
        encoding="utf-8",
    )
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.split()
    assert lines.count("MARKER") == 1
    assert int(lines[-1]) > 2


def test_batched_dossiers_equal_one_at_a_time(sample_snapshot, tmp_path):
    snap = sample_snapshot.snapshot
    with duckdb.connect(str(snap), read_only=True) as con:
        flagged = flagged_unit_years(con)
    assert flagged
    # every year's first flagged units, and a city twice (the batch's memoised sections must not leak)
    pairs = [p for i, p in enumerate(flagged) if i < 3 or p[1] != flagged[i - 1][1]][:12] + flagged[:1]
    batch = write_dossiers(snap, pairs, tmp_path / "batch")
    assert len(batch) == 2 * len(pairs)
    for unit, year in pairs:
        for a, b in zip(
            write_dossier(snap, unit, year, tmp_path / "single"),
            [tmp_path / "batch" / f"{unit}_{year}.md", tmp_path / "batch" / f"{unit}_{year}.html"],
            strict=True,
        ):
            assert a.read_bytes() == b.read_bytes(), a.name
