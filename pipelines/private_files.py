"""Folders and files only their owner may read: the accounts store (password hashes, the audit log, the limits),
the session key, the stored callback payloads (other provinces' figures, per scope) and the locks beside them;
the provincial extracts, the dossiers, the printed reports and the published snapshot (one province's or every
province's figures). Their only reader is the dashboard, which runs as the pipeline's user already (it reads the
owner-only accounts store and builds extract files on request into the extracts folder).

Each is BORN owner-only (folders 0700, files 0600), never made so after: a file created with the umask's mode
(0644) and chmod-ed later is readable by every local user for that moment, and a process that opened it then
keeps reading it. The umask itself is left alone: it is process-wide, and the dashboard serves in threads.
A folder or file left from before (created with the umask's mode) is tightened when it is next used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(fd_or_path, mode: int, wanted: int) -> None:
    if stat.S_IMODE(mode) & ~wanted:
        if isinstance(fd_or_path, int):
            os.fchmod(fd_or_path, wanted)
        else:
            os.chmod(fd_or_path, wanted)


def private_dir(path: Path | str) -> Path:
    """``path`` as an owner-only folder (made with its missing parents; the parents keep the usual mode)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=DIR_MODE)  # the mode at birth (the umask can only take bits away)
    st = path.stat()
    if st.st_uid == os.getuid():  # a folder an operator set up as another user is theirs to keep
        _tighten(path, st.st_mode, DIR_MODE)
    return path


def private_file(path: Path | str) -> Path:
    """``path`` exists and is owner-only: created empty with mode 0600 if missing (an empty file is an empty SQLite
    database, so SQLite opens it as a new one and gives its -wal and -shm files the same mode)."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        st = os.fstat(fd)
        if st.st_uid == os.getuid():
            _tighten(fd, st.st_mode, FILE_MODE)
    finally:
        os.close(fd)
    return path


def open_private(path: Path | str, mode: str = "a"):
    """``open(path, mode)`` of an owner-only file (a lock file held open, a text written in place)."""
    return open(private_file(path), mode)  # noqa: SIM115 (the caller closes it)


def write_private_text(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` whole: through an owner-only temporary file beside it, renamed over it (a
    reader sees the old text or the new one, never half)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def private_dirs(root: Path | str, relative: Path | str) -> Path:
    """``root/relative`` with every folder below ``root`` owner-only (made so at birth, or tightened when an
    earlier version left it open). ``root`` itself is made owner-only only when it is created here: an existing
    folder an operator chose (``--out``) keeps its mode, and the folders below it hold the data."""
    root = Path(root)
    if not root.is_dir():
        private_dir(root)
    path = root
    for part in Path(relative).parts:
        path = private_dir(path / part)
    return path


def tighten_file(path: Path | str) -> Path:
    """An existing file written by a library that takes a path (Parquet, a workbook, DuckDB) made owner-only. Only
    in an owner-only folder (``private_dir``): there, nobody else could open it in the moment before."""
    path = Path(path)
    st = path.stat()
    if st.st_uid == os.getuid():
        _tighten(path, st.st_mode, FILE_MODE)
    return path


def write_private_bytes(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole, born owner-only (a temporary file beside it, renamed over it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def private_duckdb(path: Path | str) -> Path:
    """The warehouse's DuckDB file, owner-only: born so when missing, tightened with its write-ahead log when an
    earlier version left them readable. DuckDB refuses an empty file as a new database (``private_file``'s way), so
    a new one is made inside an owner-only folder beside ``path`` and renamed into place: nobody else can open it
    in between. Its ``.wal``, which DuckDB deletes at each checkpoint and recreates with the process's umask, is
    covered by the ``ipcity`` command's umask (``pipelines.cli.entry``): no open folder can hold it privately."""
    import duckdb

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        nursery = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))  # mode 0700
        try:
            duckdb.connect(str(nursery / path.name)).close()
            tighten_file(nursery / path.name)
            try:  # a link never replaces: a warehouse another process made meanwhile stays
                os.link(nursery / path.name, path)
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links (some network shares)
                if not path.exists():
                    os.replace(nursery / path.name, path)
        finally:
            for leftover in nursery.iterdir():
                leftover.unlink()
            nursery.rmdir()
    for f in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            tighten_file(f)
    return path
