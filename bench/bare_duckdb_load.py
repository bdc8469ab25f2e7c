"""The least work DuckDB can do to *store* a grants file: read it with its types, write it into a fresh database
file, count it by region code and type, close (checkpoint). The floor under any ingestion that keeps the rows:
no validation, no row numbers, no lineage, and no insertion order (the rows need none to be counted; an ordered
parallel insert writes batches that the checkpoint merges again).

    python bench/bare_duckdb_load.py FILE.csv|FILE.parquet WAREHOUSE
"""

import argparse
from pathlib import Path

import duckdb


def main(path: str, warehouse: str) -> None:
    Path(warehouse).unlink(missing_ok=True)
    con = duckdb.connect(warehouse)
    con.execute("SET preserve_insertion_order = false")
    reader = "read_parquet(?)" if path.endswith(".parquet") else "read_csv(?)"
    con.execute(f"CREATE TABLE grants AS SELECT * FROM {reader}", [path])
    rows = con.sql("SELECT region_code, patent_type, count(*) AS n FROM grants GROUP BY ALL").fetchall()
    con.close()
    print(f"groups={len(rows)} rows={sum(r[2] for r in rows)}")


def cli(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="a grants file (CSV or Parquet) with region_code and patent_type columns")
    ap.add_argument("warehouse", help="the database file to write (replaced)")
    args = ap.parse_args(argv)
    main(args.path, args.warehouse)


if __name__ == "__main__":
    cli()
