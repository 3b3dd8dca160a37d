"""Where uploads live on disk, under safe names, before anything else happens to them.

    <upload folder>/                 every upload, `<safe stem>_ts_<UTC timestamp>.<ext>`
    <upload folder>/json/            the original path's JSON conversions
    <upload folder>/staging/         staged uploads awaiting review
    <upload folder>/processed/       confirmed staged uploads
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from werkzeug.utils import secure_filename

MAX_STEM = 80
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


class FileStore:
    """The portal's folders; `ensure()` creates them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.json_dir = self.root / "json"
        self.staging = self.root / "staging"
        self.processed = self.root / "processed"

    def ensure(self) -> None:
        """Create the folders if missing."""
        for folder in (self.root, self.json_dir, self.staging, self.processed):
            folder.mkdir(parents=True, exist_ok=True)

    def save_upload(self, data: bytes, original_name: str, now: dt.datetime) -> SavedFile:
        """Write the upload under a fresh safe name (never overwriting another)."""
        name = safe_filename(original_name, now)
        stem, ext = os.path.splitext(name)
        for attempt in range(100):
            candidate = name if attempt == 0 else f"{stem}_{attempt}{ext}"
            path = self.root / candidate
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            return SavedFile(candidate, path)
        raise FileExistsError(f"no free file name for {name}")

    def create_exclusive(self, folder: Path, name: str, content: bytes) -> Path:
        """Write `content` to `folder/name`, failing if the file exists."""
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        return path
