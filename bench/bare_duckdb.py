"""The least work DuckDB can do on a grants file: read it and count grants by region code and type.

python bench/bare_duckdb.py FILE.csv|FILE.parquet
"""

import argparse

import duckdb


def main(path: str) -> None:
    reader = "read_parquet(?)" if path.endswith(".parquet") else "read_csv(?, all_varchar = true)"
    rows = duckdb.sql(
        f"SELECT region_code, patent_type, count(*) AS n FROM {reader} GROUP BY ALL", params=[path]
    ).fetchall()
    print(f"groups={len(rows)} rows={sum(r[2] for r in rows)}")


def cli(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="a grants file (CSV or Parquet) with region_code and patent_type columns")
    main(ap.parse_args(argv).path)


if __name__ == "__main__":
    cli()
