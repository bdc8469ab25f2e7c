"""Provincial extracts: versioned per province and evaluation year (filled in below)."""

from __future__ import annotations

from pathlib import Path

from pipelines import settings


def extracts_dir(warehouse: Path | None = None) -> Path:
    return (Path(warehouse).parent if warehouse else settings.data_dir()) / "extracts"


def lookup_file(folder: Path, relpath: str) -> dict | None:
    return None
