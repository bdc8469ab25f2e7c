"""Which of the loaded data are synthetic and which are real: the one definition every file a user takes away
(dashboard downloads, provincial extracts, the PDF report, dossiers, exports) labels itself from.

``SOURCE_NATURE`` says what each raw source is when it comes from the bundled sample generator (the README's data
table; data/reference/README.md): the reference sources are real even then, the city-level records are generated.
Whether a source actually holds generated files is not assumed: ``ipcity generate`` lists the SHA-256 of every
file it writes in its truth file (``sample_truth.json`` beside the landing folder), and the ingestion ledger
(``raw.ingested_files``) holds the hash of every loaded file. A source is synthetic only when a file it loaded is
one the generator wrote; a deployment that loads the offices' files (no truth file, or none of its hashes loaded)
is labelled real. The publish step stores the result in the snapshot (``meta.snapshot_info``,
``synthetic_sources``), so the dashboard and the extracts, which read the snapshot, label what was published
without needing the landing folder. A snapshot without that key (published before it existed) keeps the
documented labels: it says "synthetic" rather than risk calling generated figures real.

The label texts (中文 / English) live in the labels seed (``data_provenance`` list) like every user-facing label.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from pipelines import settings
from pipelines.labels import label_text

TRUTH_FILE = "sample_truth.json"
TRUTH_HASHES_KEY = "file_sha256"  # in the truth file: {source: [sha256, ...]} of the files the generator wrote
SNAPSHOT_KEY = "synthetic_sources"  # in meta.snapshot_info: JSON list of the SOURCE_NATURE ids loaded synthetic

# What is real and what is generated sample data, per raw source (docs/contracts.md, reference README): id, real
# even in the sample, 中文, English. The id is the source, with its extent when one source feeds two tables.
SOURCE_NATURE: list[tuple[str, bool, str, str]] = [
    ("cities", True, "行政区划（GB/T 2260）", "Administrative divisions (GB/T 2260)"),
    ("programme_cities", True, "国家知识产权示范城市名单", "National IP demonstration city roster"),
    ("population (provinces)", True, "省级人口与GDP面板", "Province population and GDP panel"),
    ("patent_stats (provinces)", True, "省级专利统计面板", "Province patent statistics panel"),
    ("population (cities)", False, "城市人口与GDP", "City population and GDP"),
    (
        "patent_stats (cities)",
        False,
        "城市专利统计（全量，按真实省级总量校准）",
        "City patent statistics (full volume, calibrated to the real province totals)",
    ),
    ("patent_grants", False, "专利授权记录", "Patent grant records"),
    ("pledge_loans", False, "知识产权质押融资", "IP pledge loans"),
    ("enforcement_cases", False, "执法案件", "Enforcement cases"),
    ("training_events", False, "培训活动", "Training events"),
    ("targets", False, "城市规划目标", "City plan targets"),
]
DOCUMENTED_SYNTHETIC: tuple[str, ...] = tuple(s for s, real, _, _ in SOURCE_NATURE if not real)


def source_of(nature_id: str) -> str:
    """The raw source of a SOURCE_NATURE id: "population (cities)" -> "population"."""
    return nature_id.partition(" (")[0]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def truth_path() -> Path:
    """Where ``ipcity generate`` writes its truth file: beside the landing folder (pipelines.generate)."""
    return settings.landing_dir().parent / TRUTH_FILE


def generated_hashes(path: Path | None = None) -> set[str] | None:
    """The hashes of the files the generator wrote; None when the truth file exists but predates the hash list
    (it was generated, which files is unknown); an empty set when there is no truth file (nothing generated)."""
    path = path or truth_path()
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return set()
    listed = truth.get(TRUTH_HASHES_KEY)
    if listed is None:
        return None
    return {h for hashes in listed.values() for h in hashes}


def _rows(con, sql: str) -> list[tuple]:
    """Rows of ``sql`` from a DuckDB connection or a dashboard ``Snapshot`` (either is what callers hold)."""
    if hasattr(con, "execute"):
        return con.execute(sql).fetchall()
    return con.query(sql).rows()


def _has_table(con, schema: str, table: str) -> bool:
    sql = f"select count(*) from information_schema.tables where table_schema = '{schema}' and table_name = '{table}'"
    return bool(_rows(con, sql)[0][0])


def loaded_synthetic(con, truth: Path | None = None) -> tuple[str, ...]:
    """The SOURCE_NATURE ids whose loaded files (the warehouse's ledger) include one the generator wrote."""
    hashes = generated_hashes(truth)
    if hashes is None:
        return DOCUMENTED_SYNTHETIC
    if not hashes or not _has_table(con, "raw", "ingested_files"):
        return () if not hashes else DOCUMENTED_SYNTHETIC
    loaded = {
        (src, h) for src, h in _rows(con, "select source, file_hash from raw.ingested_files where status = 'loaded'")
    }
    generated_sources = {src for src, h in loaded if h in hashes}
    return tuple(s for s in DOCUMENTED_SYNTHETIC if source_of(s) in generated_sources)


def published_synthetic(con) -> tuple[str, ...]:
    """The synthetic sources a published snapshot (DuckDB connection or ``Snapshot``) records; the documented
    ones for a snapshot published before the key existed. A warehouse (no snapshot_info: the run's own
    connection) answers from its ledger and the truth file."""
    if not _has_table(con, "meta", "snapshot_info"):
        return loaded_synthetic(con)
    rows = _rows(con, f"select value from meta.snapshot_info where key = '{SNAPSHOT_KEY}'")
    if not rows:
        return DOCUMENTED_SYNTHETIC
    listed = set(json.loads(rows[0][0]))
    return tuple(s for s in DOCUMENTED_SYNTHETIC if s in listed)


@dataclass(frozen=True)
class DataNature:
    """What a file's data are: the synthetic SOURCE_NATURE ids (empty: all real). Picklable (extract workers)."""

    synthetic: tuple[str, ...] = DOCUMENTED_SYNTHETIC

    @property
    def is_synthetic(self) -> bool:
        return bool(self.synthetic)

    def sources(self, synthetic: bool, lang: str) -> list[str]:
        i = 3 if lang == "en" else 2
        return [row[i] for row in SOURCE_NATURE if (row[0] in self.synthetic) == synthetic]

    def note(self, lang: str) -> str:
        """One line naming the synthetic and the real sources in ``lang`` ("zh" or "en"); with nothing synthetic
        loaded, the real sources alone (the file does not mention synthetic data at all)."""
        sep, colon, comma = ("; ", ": ", ", ") if lang == "en" else ("；", "：", "、")
        real = f"{label_text('provenance_real_sources', lang)}{colon}{comma.join(self.sources(False, lang))}"
        if not self.is_synthetic:
            return real
        syn = comma.join(self.sources(True, lang))
        return f"{label_text('provenance_synthetic_sources', lang)}{colon}{syn}{sep}{real}"

    def note_both(self) -> str:
        """The note in 中文 and English (files read in either language)."""
        return f"{self.note('zh')} / {self.note('en')}"

    def document_properties(self) -> dict[str, str]:
        """A workbook's document properties (File > Info; read by scripts and document indexes): the note travels
        with the file even when its note sheet is deleted."""
        return properties(self.row_value(), self.note_both())

    def parquet_metadata(self) -> dict[str, str]:
        """A Parquet file's key-value metadata (its columns stay those of the published tables)."""
        return {
            "data_provenance": self.row_value(),
            "data_provenance_note": self.note_both(),
            "synthetic_sources": json.dumps(list(self.synthetic)),
        }

    def note_rows(self) -> list[list[str]]:
        """The rows of a workbook's note sheet: the per-row value, then the note in 中文 and in English."""
        return [
            [self.header(), self.row_value()],
            ["说明", self.note("zh")],
            ["Note", self.note("en")],
        ]

    def header(self) -> str:
        """The per-row column's header in a Chinese-headed file, with the English word for scripts and readers."""
        return f"{label_text('data_provenance', 'zh')} {label_text('data_provenance', 'en')}"

    def row_value(self) -> str:
        """Every row of a city-level file: its figures draw on city-level records (population and GDP at least,
        the denominators of every indicator), so a row is synthetic when any city-level source loaded is."""
        code = "provenance_synthetic" if self.is_synthetic else "provenance_real"
        return f"{label_text(code, 'zh')} / {label_text(code, 'en')}"


def properties(row_value: str, note: str) -> dict[str, str]:
    """Document properties from the per-row value and the bilingual note (a workbook whose cover states them)."""
    return {
        "subject": f"{label_text('data_provenance', 'zh')} / {label_text('data_provenance', 'en')}",
        "description": note,
        "keywords": row_value,
    }


def nature_of(con) -> DataNature:
    """The data nature of a published snapshot (connection or ``Snapshot``)."""
    return DataNature(published_synthetic(con))


def with_provenance_column(df, nature: DataNature):
    """``df`` with the per-row provenance column last: header-first readers and scripts that select columns by
    name keep working, and a row copied or filtered out of the file still says what it is."""
    import polars as pl

    return df.with_columns(pl.lit(nature.row_value(), dtype=pl.String).alias(nature.header()))


# The data nature of the warehouse a step holds open (the run's alert step): set by the step (``holding``), read by
# nature_now, which could not open the warehouse the step holds.
_HELD: ContextVar[DataNature | None] = ContextVar("ipcity_data_nature", default=None)


@contextmanager
def holding(con):
    """Within the block, nature_now answers from ``con`` (the connection the caller holds the warehouse with)."""
    token = _HELD.set(nature_of(con))
    try:
        yield
    finally:
        _HELD.reset(token)


def nature_now() -> DataNature:
    """What the data a message or file made outside a download is drawn from (an alert digest in the outbox folder):
    the warehouse the calling step holds (``holding``), else the published snapshot's record, else the warehouse's
    ledger; none readable (none yet, or a run holds the warehouse) keeps the documented labels, which say
    "synthetic" rather than risk calling generated figures real."""
    import duckdb

    if (held := _HELD.get()) is not None:
        return held
    for path in (settings.snapshot_path(), settings.warehouse_path()):
        if not path.is_file():
            continue
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                return nature_of(con)
        except duckdb.Error:
            continue
    return DataNature()
