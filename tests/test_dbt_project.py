"""Static checks of the dbt project that need no warehouse: the catalog seeds and the raw source declarations
agree with the shared contract (docs/contracts.md, pipelines/sources.py)."""

from __future__ import annotations

import re

import polars as pl
import pytest
import yaml

from pipelines.settings import DBT_PROJECT_DIR, DEFAULT_FIRST_YEAR, DEFAULT_LAST_YEAR, PROJECT_ROOT
from pipelines.sources import SOURCES

SEEDS = DBT_PROJECT_DIR / "seeds"


def _csv(name: str) -> pl.DataFrame:
    return pl.read_csv(SEEDS / f"{name}.csv", infer_schema=False)


def contract_codes() -> set[str]:
    text = (PROJECT_ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| ((?:MGT|PRO|UTL|QLT|ENV)\d\d) \|", text, flags=re.M))


def test_every_catalog_version_has_the_contract_indicators_and_weights_sum_to_one():
    cat, pillars, versions = _csv("indicator_catalog"), _csv("pillars"), _csv("catalog_versions")
    codes = contract_codes()
    assert len(codes) == 19
    assert set(versions["catalog_version"]) == set(cat["catalog_version"]) == set(pillars["catalog_version"])
    assert len(set(cat["catalog_version"])) >= 2
    for (version,), g in cat.group_by(["catalog_version"]):
        assert set(g["indicator_code"]) == codes, version
        assert set(g["direction"]) <= {"higher", "lower"}
        assert (g["indicator_code"].str.slice(0, 3) == g["pillar_code"]).all()
        for (pillar,), gp in g.group_by(["pillar_code"]):
            assert gp["weight"].cast(pl.Float64).sum() == pytest.approx(1.0), (version, pillar)
        pv = pillars.filter(pl.col("catalog_version") == version)
        assert set(pv["pillar_code"]) == {"MGT", "PRO", "UTL", "QLT", "ENV"}
        assert pv["pillar_weight"].cast(pl.Float64).sum() == pytest.approx(1.0)
    # the versions differ somewhere, or versioning would prove nothing
    a, b = (
        cat.filter(pl.col("catalog_version") == v).sort("indicator_code")["weight"]
        for v in sorted(set(cat["catalog_version"]))
    )
    assert a.to_list() != b.to_list()
    # each indicator keeps its direction across versions (a changed definition needs a new code)
    assert cat.group_by("indicator_code").agg(pl.col("direction").n_unique())["direction"].max() == 1


def test_every_default_evaluation_year_has_one_catalog_version():
    versions = _csv("catalog_versions")
    years = versions["evaluation_year"].cast(pl.Int32).to_list()
    assert len(years) == len(set(years))
    assert set(range(DEFAULT_FIRST_YEAR, DEFAULT_LAST_YEAR + 1)) <= set(years)


def test_dbt_sources_declare_every_raw_table_and_column():
    spec = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_raw__sources.yml").read_text(encoding="utf-8"))
    (raw,) = [s for s in spec["sources"] if s["name"] == "raw"]
    tables = {t["name"]: t for t in raw["tables"]}
    assert set(tables) == set(SOURCES)
    for name, source in SOURCES.items():
        declared = [c["name"] for c in tables[name]["columns"]]
        expected = [c.name for c in source.columns] + (["year"] if source.partitioned else [])
        assert declared == expected, name
        assert tables[name]["config"]["meta"]["dagster"]["asset_key"] == ["raw", name]


def test_raw_sources_leave_required_columns_to_the_contracts_checks():
    """A required column's nulls are judged once, from pipelines/sources.py (loader, GX raw suites, partition
    profile: tests/test_quality_definitions.py); a not_null test in the sources yml would be a second list."""
    spec = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_raw__sources.yml").read_text(encoding="utf-8"))
    (raw,) = [s for s in spec["sources"] if s["name"] == "raw"]
    copies = [
        f"{table['name']}.{column['name']}"
        for table in raw["tables"]
        for column in table["columns"]
        if "not_null" in str(column.get("data_tests") or column.get("tests") or "")
    ]
    assert copies == []


def test_one_staging_model_per_raw_table():
    staged = {p.stem.removeprefix("stg_raw__") for p in (DBT_PROJECT_DIR / "models" / "staging").glob("stg_raw__*.sql")}
    assert staged == set(SOURCES)


def test_models_avoid_non_portable_sql():
    """docs: portable SQL (Spark later) - engine-specific bits only in macros/portable.sql."""
    bad = re.compile(r"\bvarchar\b|\bexclude\s*\(|//|\bqualify\b|::|\[\s*'", re.I)
    # a sort key a macro writes (e.g. release_latest_first) is judged in the macro's own body: every key there
    # says where its nulls go, so the call stands for a key that does
    macro_bodies = {
        m.group(1): m.group(2)
        for path in (DBT_PROJECT_DIR / "macros").rglob("*.sql")
        for m in re.finditer(
            r"\{%-?\s*macro\s+(\w+)\s*\(.*?%\}(.*?)\{%-?\s*endmacro", path.read_text(encoding="utf-8"), re.S
        )
    }
    sorted_by_macro = {
        name
        for name, body in macro_bodies.items()
        if re.search(r"\b(?:asc|desc)\b", body, re.I)
        and all("nulls" in key.lower() for key in re.sub(r"\{\{.*?\}\}", "x", body, flags=re.S).split(","))
    }
    for path in (DBT_PROJECT_DIR / "models").rglob("*.sql"):
        text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        text = re.sub(
            r"\{\{-?\s*(\w+)\s*\(.*?\}\}",
            lambda m: "macro_sort_key nulls last" if m.group(1) in sorted_by_macro else m.group(0),
            text,
            flags=re.S,
        )
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", text, flags=re.S)  # Jinja is not SQL
        assert not bad.search(text), (path.name, bad.search(text).group(0))
        # Functions whose results differ silently between DuckDB and Spark (both engines run in CI's parity
        # test, tests/test_engine_parity.py): concat() skips nulls on DuckDB and returns null on Spark
        # (concat_ws('', ...) skips them on both); round() of a double rounds differently (round_half_away).
        silent = re.search(r"(?<![\w.])(concat|round)\s*\(", text, re.I)
        assert not silent, (path.name, silent.group(0), "use concat_ws('', ...) / round_half_away()")
        # Every sort key says where nulls go (engines disagree on the default).
        for order in re.finditer(r"order\s+by\s+(.*?)(\)|$|\blimit\b|\bunion\b)", text, re.I | re.S):
            for key in order.group(1).split(","):
                assert "nulls" in key.lower(), (path.name, key.strip()[:80])


def test_a_steps_parse_state_is_handed_to_the_next_step(tmp_path, monkeypatch):
    """pipelines.assets.dbt.keep_partial_parse copies the state a dbt step wrote to where dagster-dbt seeds the
    next step's folder from (DBT_TARGET_PATH, else the project's target/), replacing what was there."""
    from pipelines.assets.dbt import keep_partial_parse

    shared = tmp_path / "shared_target"
    monkeypatch.setenv("DBT_TARGET_PATH", str(shared))
    step = tmp_path / "step"
    step.mkdir()
    keep_partial_parse(step)  # a step that wrote no state (dbt failed before parsing) hands nothing on
    assert not (shared / "partial_parse.msgpack").exists()
    (step / "partial_parse.msgpack").write_bytes(b"state of this step")
    keep_partial_parse(step)
    assert (shared / "partial_parse.msgpack").read_bytes() == b"state of this step"
    assert [p.name for p in shared.iterdir()] == ["partial_parse.msgpack"]  # no temporary file left behind


def test_the_dbt_resource_knows_its_version_without_running_dbt(monkeypatch, tmp_path):
    """dagster-dbt runs `dbt --version` before a process's first dbt step: a second Python process importing
    dbt, and a call to PyPI for the latest release on every run. The project's resource reads the installed
    dbt-core's version instead when the executable is the environment's own dbt."""
    import importlib.metadata

    from dagster_dbt.core import resource as dagster_dbt_resource

    from pipelines.assets.dbt import VENV_DBT, IpcityDbtCli, dbt_resource

    ran = []
    monkeypatch.setattr(dagster_dbt_resource, "check_output", lambda *a, **k: ran.append(a) or b"dbt 9.9.9")
    assert str(dbt_resource()._cli_version) == importlib.metadata.version("dbt-core")
    # the Spark engine's launcher runs this environment's dbt-core too (pipelines/spark_engine.py)
    from pipelines.spark_engine import LAUNCHER

    on_spark = IpcityDbtCli(project_dir=str(DBT_PROJECT_DIR), dbt_executable=str(LAUNCHER), target="spark")
    assert str(on_spark._cli_version) == importlib.metadata.version("dbt-core")
    assert ran == []
    # another executable (a dbt on PATH, the Spark launcher) is still asked
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\n")
    elsewhere.chmod(0o755)
    assert elsewhere != VENV_DBT
    other = IpcityDbtCli(project_dir=str(DBT_PROJECT_DIR), dbt_executable=str(elsewhere))
    assert str(other._cli_version) == "9.9.9" and len(ran) == 1


def test_a_stale_manifest_is_parsed_in_a_second_process(monkeypatch, tmp_path):
    """`ipcity run` parses a stale dbt project beside its planning (pipelines/dbt_manifest.py): the process
    writes the manifest dagster-dbt reads, where dagster-dbt reads it, and a fresh manifest is not parsed again."""
    import json
    import shutil

    from pipelines import dbt_manifest, settings
    from pipelines.assets.dbt import DBT_PROJECT

    assert dbt_manifest.MANIFEST == DBT_PROJECT.manifest_path
    # the project's configuration and macros with one model: what the parse does is dbt's; the test is where
    # the manifest lands and that a second process wrote it
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR / "macros", project / "macros")
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(DBT_PROJECT_DIR / name, project / name)
    (project / "models").mkdir()
    (project / "models" / "one_row.sql").write_text("select 1 as x\n", encoding="utf-8")
    monkeypatch.setattr(settings, "DBT_PROJECT_DIR", project)
    monkeypatch.setattr(dbt_manifest, "MANIFEST", project / "target" / "manifest.json")
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    assert dbt_manifest.is_stale()
    proc = dbt_manifest.start_parse()
    assert proc is not None
    dbt_manifest.finish_parse(proc)
    assert proc.returncode == 0
    assert not dbt_manifest.is_stale()
    nodes = json.loads(dbt_manifest.MANIFEST.read_text(encoding="utf-8"))["nodes"]
    assert "model.ipcity.one_row" in nodes
    assert (project / "target" / "partial_parse.msgpack").exists()  # the first dbt step parses only changes
    assert dbt_manifest.start_parse() is None


def test_old_dbt_step_folders_are_pruned(tmp_path):
    """dagster-dbt leaves a folder per dbt step and run under target/ (≈ 16 MB each); the build keeps the newest
    few of its own step and removes older ones once they are an hour old, never another step's or a young one."""
    import os

    from pipelines.assets.dbt import prune_step_folders

    now = 1_900_000_000.0
    ages_h = [0.1, 0.5, 2, 3, 5, 8, 30, 200]
    mine = []
    for i, age in enumerate(ages_h):
        p = tmp_path / f"dbt_indicator_models-{i:07x}-abc{i:04x}"
        p.mkdir()
        (p / "manifest.json").write_text("{}")
        os.utime(p, (now - age * 3600, now - age * 3600))
        mine.append(p)
    other = tmp_path / "dbt_evaluation_models-0000000-abcdef0"
    other.mkdir()
    os.utime(other, (now - 999 * 3600,) * 2)
    shared = tmp_path / "partial_parse.msgpack"
    shared.write_bytes(b"state")
    removed = prune_step_folders(tmp_path, "dbt_indicator_models", keep=3, min_age_s=3600, now=now)
    assert sorted(removed) == sorted(mine[3:])
    assert [p.exists() for p in mine] == [True] * 3 + [False] * 5
    assert other.exists() and shared.exists()
    # a folder younger than the minimum age stays even beyond the newest `keep` (a run still going)
    assert prune_step_folders(tmp_path, "dbt_indicator_models", keep=1, min_age_s=3600, now=now) == [mine[2]]
    assert mine[0].exists() and mine[1].exists()


def test_every_sql_file_is_within_the_linters_size_limit():
    """sqlfluff skips a file over its ``large_file_skip_byte_limit`` with a warning and still reports success, so a
    model that grew past 20,000 bytes (fct_evaluation_cycle, with its evidence clauses in two languages) went
    unlinted while CI read "All Finished!". The limit is set in ``.sqlfluff``; every SQL file of the project must fit."""
    import configparser

    config = configparser.ConfigParser()
    config.read(PROJECT_ROOT / ".sqlfluff", encoding="utf-8")
    limit = int(config["sqlfluff"]["large_file_skip_byte_limit"])
    too_big = {
        str(p.relative_to(PROJECT_ROOT)): p.stat().st_size
        for p in DBT_PROJECT_DIR.rglob("*.sql")
        if "target" not in p.parts and "dbt_packages" not in p.parts and p.stat().st_size > limit
    }
    assert not too_big, f"sqlfluff would skip these (limit {limit} bytes in .sqlfluff): {too_big}"
