"""The least work Polars can do on a grants file: read it and count grants by region code and type.

    python bench/bare_polars.py FILE.csv|FILE.parquet

Lazy scan with projection pushdown, all columns as text (no type inference): the physical floor for "read the
file and aggregate" in Polars. Run as its own process so the whole-process time includes start-up.
"""

import argparse

import polars as pl


def main(path: str) -> None:
    if path.endswith(".parquet"):
        lf = pl.scan_parquet(path)
    else:
        lf = pl.scan_csv(path, infer_schema=False)
    out = lf.group_by("region_code", "patent_type").len().collect()
    print(f"groups={out.height} rows={out['len'].sum()}")


def cli(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", help="a grants file (CSV or Parquet) with region_code and patent_type columns")
    main(ap.parse_args(argv).path)


if __name__ == "__main__":
    cli()
