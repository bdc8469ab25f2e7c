"""Timing wrappers that split ingest_file's work into read / validate / hash without changing it.

ingest_file looks these functions up in its module at call time, so wrapping them there is enough.
"""

from __future__ import annotations

import time

import pipelines.ingest.load as load

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
