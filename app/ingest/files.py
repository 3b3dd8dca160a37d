"""Where uploads live on disk, under safe names, before anything else happens to them.

    <upload folder>/                 every upload, `<safe stem>_ts_<UTC timestamp>.<ext>`
    <upload folder>/journal/         `<upload name>.json`: a kept upload the database has not recorded yet
    <upload folder>/json/            the original path's JSON conversions
    <upload folder>/staging/         staged uploads awaiting review
    <upload folder>/processed/       confirmed staged uploads

Every file is written whole or not at all: to a `.partial-*` temporary beside it, flushed
to disk, then linked under its name (a link never replaces another file); on any error
(a full disk) the temporary is removed, so no 0-byte or half-written file is left. An
upload's journal entry is written the same way *before* the upload itself appears, and
removed once the database has its record, so every kept file has a journal entry or a
record (`app.ingest.reconcile` records the ones the database never saw).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from werkzeug.utils import secure_filename

MAX_STEM = 80
PARTIAL_PREFIX = ".partial-"
JOURNAL_FORMAT = "arb-upload-journal/1"
_EXTENSION = re.compile(r"\.[a-z0-9]{1,10}")


def safe_filename(original: str, now: dt.datetime) -> str:
    """A name that is safe on any file system: no separators, no `..`, ASCII, bounded,
    with a UTC timestamp suffix so two uploads of one file never collide."""
    base = original.replace("\\", "/").rsplit("/", 1)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    cleaned = secure_filename(ascii_name)
    stem, ext = os.path.splitext(cleaned)
    ext = ext.lower() if _EXTENSION.fullmatch(ext.lower()) else ""
    stem = stem.strip("._")[:MAX_STEM] or "upload"
    return f"{stem}_ts_{now.astimezone(dt.timezone.utc):%Y%m%d_%H%M%S_%f}{ext}"


@dataclass(frozen=True)
class SavedFile:
    """An upload kept on disk: its stored name (relative to the upload folder)."""

    name: str
    path: Path


def _fsync_dir(folder: Path, durable: bool = True) -> None:
    if not durable:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_partial(folder: Path, content: bytes, durable: bool = True) -> Path:
    """`content` in a new temporary file of `folder`, flushed to disk (`durable`); removed again on error."""
    path = folder / f"{PARTIAL_PREFIX}{secrets.token_hex(8)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def publish(partial: Path, target: Path) -> None:
    """Give a flushed temporary its name; raises `FileExistsError` if the name is taken
    (the temporary is kept for another name) or `OSError` (the temporary is removed)."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.unlink(missing_ok=True)


def write_whole(path: Path, content: bytes) -> Path:
    """Write `content` to `path` whole, replacing it (nothing partial left on error)."""
    partial = write_partial(path.parent, content)
    try:
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


class FileStore:
    """The portal's folders; `ensure()` creates them."""

    def __init__(self, root: Path, durable: bool = True) -> None:
        self.root = Path(root)
        # fsync each upload, its journal entry and their folders: survives power loss, at a
        # cost of a few ms per upload on a real disk (HARNESS_UPLOAD_FSYNC=false drops it;
        # a process crash loses nothing either way).
        self.durable = durable
        self.journal = self.root / "journal"
        self.json_dir = self.root / "json"
        self.staging = self.root / "staging"
        self.processed = self.root / "processed"

    @property
    def folders(self) -> tuple[Path, ...]:
        """Every folder the portal writes to."""
        return (self.root, self.journal, self.json_dir, self.staging, self.processed)

    def ensure(self) -> None:
        """Create the folders if missing."""
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)

    def journal_path(self, name: str) -> Path:
        """Where the journal entry of upload `name` lives."""
        return self.journal / f"{name}.json"

    def save_upload(self, data: bytes, original_name: str, now: dt.datetime, journal: dict | None = None) -> SavedFile:
        """Write the upload under a fresh safe name (never overwriting another), its journal
        entry first; raises `OSError` with nothing left behind."""
        name = safe_filename(original_name, now)
        stem, ext = os.path.splitext(name)
        data_partial = write_partial(self.root, data, self.durable)
        try:
            for attempt in range(100):
                candidate = name if attempt == 0 else f"{stem}_{attempt}{ext}"
                if (self.root / candidate).exists():
                    continue
                entry = {"format": JOURNAL_FORMAT, "saved_name": candidate, **(journal or {})}
                journal_partial = write_partial(self.journal, json.dumps(entry).encode("utf-8"), self.durable)
                try:
                    publish(journal_partial, self.journal_path(candidate))  # reserves the name
                except FileExistsError:
                    journal_partial.unlink(missing_ok=True)
                    continue
                try:
                    publish(data_partial, self.root / candidate)
                except BaseException:
                    self.journal_path(candidate).unlink(missing_ok=True)
                    raise
                _fsync_dir(self.journal, self.durable)
                _fsync_dir(self.root, self.durable)
                return SavedFile(candidate, self.root / candidate)
            raise FileExistsError(f"no free file name for {name}")
        finally:
            data_partial.unlink(missing_ok=True)

    def forget_journal(self, name: str) -> None:
        """The database has the upload's record: its journal entry is no longer needed."""
        self.journal_path(name).unlink(missing_ok=True)

    def create_exclusive(self, folder: Path, name: str, content: bytes) -> Path:
        """Write `content` to `folder/name` whole, failing if the file exists (nothing partial left)."""
        partial = write_partial(folder, content, self.durable)
        try:
            publish(partial, folder / name)
        finally:
            partial.unlink(missing_ok=True)
        return folder / name

    def free_space(self) -> tuple[int, int]:
        """(free bytes, total bytes) of the upload folder's file system."""
        usage = shutil.disk_usage(self.root)
        return usage.free, usage.total
