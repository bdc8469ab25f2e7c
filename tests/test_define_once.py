"""Every threshold and label of the vocabulary seeds is written once: no band bound and no label of
dbt_project/seeds/performance_bands.csv or labels.csv appears as a literal anywhere else in the code.

The values searched for are read from the seeds (never copied here), so the test follows any change to them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.labels import group_names, index_decimals, label_set, load_bands, load_labels, performance_group
from pipelines.settings import PROJECT_ROOT

# Where code lives (tests, docs and the seeds themselves are not code). dbt unit tests (`*unit_tests.yml`) give
# their own inputs, bands and rules included, as tests do.
CODE_DIRS = ("pipelines", "dashboards", "dbt_project/models", "dbt_project/macros", "expectations", "bench")
CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".json"}


def _is_test_input(rel: str) -> bool:
    return rel.startswith("dbt_project/models/") and rel.endswith("unit_tests.yml")


# Literals that happen to equal a label but are something else: the words office files use for a roster status
# (input aliases, mapped to codes on ingestion) and the name of Excel's built-in cell style.
NOT_A_LABEL = {
    ("pipelines/ingest/validate.py", "正常"),
    ("pipelines/ingest/validate.py", "整改"),
    ("dashboards/xlsx.py", "Normal"),
}
# The composite index is defined as 100 x composite / programme average: 100 is the index's base, not only a
# band bound, so it is searched for in comparisons only.
INDEX_BASE = 100.0


def code_files() -> list[Path]:
    out = []
    for d in CODE_DIRS:
        for p in sorted((PROJECT_ROOT / d).rglob("*")):
            rel = p.relative_to(PROJECT_ROOT).as_posix()
            if p.is_file() and p.suffix in CODE_SUFFIXES and not _is_test_input(rel) and "/target/" not in rel:
                out.append(p)
    assert len(out) > 50, "the scan found too few files: wrong project root?"
    return out


def code_lines(path: Path):
    """(line number, line) without comments, so prose may still explain a value in words."""
    comment = "#" if path.suffix == ".py" else "--"
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if path.suffix == ".py" and (stripped.startswith('"""') or stripped.startswith("#")):
            continue
        if path.suffix == ".sql" and (stripped.startswith("--") or stripped.startswith("{#")):
            continue
        yield n, line.split(f" {comment} ")[0]


def number_pattern(value: float, comparisons_only: bool) -> re.Pattern:
    n = re.escape(f"{value:g}") + r"(?:\.0+)?(?![\d.])"
    if comparisons_only:
        return re.compile(rf"(?:[<>]=?\s*{n}|(?<![\d.]){n}\s*[<>])")
    return re.compile(rf"(?<![\w.]){n}")


def test_the_seeds_are_what_the_loader_reads():
    bands = load_bands()
    assert bands[-1].lower_bound is None and all(b.lower_bound is not None for b in bands[:-1])
    assert set(group_names()) == set(label_set("performance_group"))
    # every stage code the evaluation marts use (OWNERS.md shared names) has a label
    for code in ("normal", "watch", "review", "rectification", "exit_candidate", "exemplary", "not_reported"):
        assert code in label_set("stage"), code
    labels = load_labels()
    assert len({lab.name_zh for lab in labels.values()}) == len(labels), "two codes share a Chinese label"
    # every alert rule has its one display name there (alert messages and the dashboard both read it)
    from pipelines.alerts.config import load_rules

    assert set(load_rules().rules) <= set(label_set("alert_rule")), "an alert rule without a label"


# the lowest band has no bound (asserted above), so only the bounded bands are searched for copies
@pytest.mark.parametrize("band", [b for b in load_bands() if b.lower_bound is not None], ids=lambda b: b.group_code)
def test_no_band_bound_is_written_twice(band):
    pattern = number_pattern(band.lower_bound, comparisons_only=band.lower_bound == INDEX_BASE)
    hits = [
        f"{p.relative_to(PROJECT_ROOT)}:{n}: {line.strip()}"
        for p in code_files()
        for n, line in code_lines(p)
        if pattern.search(line)
    ]
    assert not hits, f"band bound {band.lower_bound:g} of {band.group_code} copied outside the seed:\n" + "\n".join(
        hits
    )


def test_no_label_is_written_twice():
    labels = load_labels()
    texts = {t for lab in labels.values() for t in (lab.name_zh, lab.name_en)}
    literal = re.compile(r"""(["'])((?:(?!\1).){1,40})\1""")
    hits = []
    for p in code_files():
        for n, line in code_lines(p):
            for m in literal.finditer(line):
                if m.group(2) in texts and (p.relative_to(PROJECT_ROOT).as_posix(), m.group(2)) not in NOT_A_LABEL:
                    hits.append(f"{p.relative_to(PROJECT_ROOT)}:{n}: {m.group(2)!r}")
    assert not hits, "labels copied outside the labels seed:\n" + "\n".join(hits)


def test_python_groups_follow_the_band_boundaries():
    bands = load_bands()
    for upper, lower in zip(bands, bands[1:], strict=False):
        bound = upper.lower_bound
        assert performance_group(bound) == (upper.group_code if upper.lower_bound_inclusive else lower.group_code)
        # banded as published (GEN.index_decimals, half up): one published step either side crosses the bound, a
        # difference the published figure does not show does not
        step = 10.0 ** -index_decimals()
        assert performance_group(bound + step) == upper.group_code
        assert performance_group(bound - step) == lower.group_code
        assert performance_group(bound + 1e-9) == performance_group(bound) == performance_group(bound - 1e-9)
    assert performance_group(None) is None and performance_group(float("nan")) is None
