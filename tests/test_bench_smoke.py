"""bench/ingest_limit.py at a tiny scale, so the benchmark cannot rot: every command it times still runs,
the scan puts every row at its file row number, both ingest paths load the same rows, and the pandas script
and the pipeline still compute the same indicators. Nothing here asserts a time (figures: bench/RESULTS.md)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_ingest_limit_benchmark_runs_at_small_scale(tmp_path):
    from bench.ingest_limit import main

    r = main(["--scale", "0.002", "--formats", "csv", "--repeats", "1", "--pandas", "--work", str(tmp_path)])
    csv = r["csv"]
    assert csv["row_numbers"]["rows_checked"] > 1000 and csv["row_numbers"]["rows_at_wrong_number"] == 0
    scan, reader = csv["pipeline_scan"]["split"]["grants"], csv["pipeline_polars_reader"]["split"]["grants"]
    assert scan == reader and scan["read"] == scan["loaded"] + scan["rejected"]
    assert csv["ratio_scan_vs_bare"] > 0 and csv["ratio_polars_reader_vs_bare"] > 0
    assert r["pandas"]["compare"]["mismatched_values"] == 0 and r["pandas"]["compare"]["unit_years_pipeline"] > 0


def _small_warehouse(tmp_path) -> str:
    """A warehouse whose raw layer is one small generated year, loaded by the loader."""
    import duckdb

    from pipelines.generate import generate
    from pipelines.ingest.load import ingest_file, landing_files
    from pipelines.sources import SOURCES

    generate(tmp_path / "landing", seed=5, scale=0.002, first_year=2020, last_year=2020, history_first_year=2020)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    for source in SOURCES.values():  # cities first: SOURCES is in load order
        for path in landing_files(tmp_path / "landing", source):
            ingest_file(con, source, path)
    con.close()
    return str(tmp_path / "warehouse.duckdb")


@pytest.mark.slow
def test_gx_configuration_benchmark_runs_on_a_small_warehouse(tmp_path):
    """bench/bench_gx_configuration.py on a warehouse with a small raw layer: both ways run every suite it finds
    and judge alike."""
    from bench.bench_gx_configuration import main
    from pipelines.sources import SOURCES

    r = main([_small_warehouse(tmp_path), "--repeats", "1"])
    assert r["same"] and r["suites"] == len(SOURCES) and r["checks"] > 100


@pytest.mark.slow
def test_row_sample_benchmark_runs_on_a_small_warehouse(tmp_path):
    """bench/bench_row_sample.py times the profile and both sample sizes of every yearly source it finds."""
    from bench.bench_row_sample import main
    from pipelines.sources import YEARLY_SOURCES

    r = main([_small_warehouse(tmp_path), "--repeats", "1"])
    assert {s.name for s in YEARLY_SOURCES} <= set(r) and r["now_total_s"] > 0 and r["ratio"] > 0


@pytest.mark.slow
def test_national_run_ratio_benchmark_runs_at_small_scale(tmp_path):
    """bench/national_run_ratio.py end to end on a tiny generated year: the bare counts, the warm parse, the full
    run, the ratios with CPU beside wall, and CPU per stage from the sampler."""
    from bench.national_run_ratio import main

    r = main(["--scale", "0.002", "--repeats", "1", "--work", str(tmp_path)])
    assert r["run"]["success"], r
    assert len(r["bare_duckdb"]["wall_s"]) == 2 and r["ratio_wall"] > 1 and r["ratio_cpu"] > 1
    assert r["run"]["process_cpu_s"] >= r["run"]["dagster_run_cpu_s"] > 0
    assert r["run"]["stages_cpu_s"]["ingest"] > 0 and r["run"]["stages_cpu_s"]["dbt indicator"] > 0
    assert r["run"]["sampler_cpu_s"] < r["run"]["process_cpu_s"]
    # the timed process collects garbage as `ipcity run` does (pipelines/heap.py), or it times more than the command
    assert r["run"]["frozen_heap_objects"] > 0
