"""Timing wrappers that split ingest_file's work into phases without changing it: hash (sha256 + line count),
scan_insert (the contract's DuckDB scan inserting the good rows, and the second pass over a file with other
rows), read (the Polars reader), validate (the Polars rules: every row on the reader path, the refused rows on
the scan path), duplicates (repeated keys among the file's rows), write (quarantine, ledger, commit).

ingest_file looks these functions up in its module at call time, so wrapping them there is enough.
"""

from __future__ import annotations

import time

import pipelines.ingest.load as load
from pipelines.ingest import contract_sql

PHASES: dict[str, float] = {}


def _timed(name, fn):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - t

    return wrapper


load.read_file = _timed("read", load.read_file)
load.validate = _timed("validate", load.validate)
load.file_hash = _timed("hash", load.file_hash)
contract_sql.stage = _timed("scan_insert", contract_sql.stage)
contract_sql.stage_frame = _timed("scan_insert", contract_sql.stage_frame)
load._staged_duplicates = _timed("duplicates", load._staged_duplicates)
load._write = _timed("write", load._write)
