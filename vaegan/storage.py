"""Writing files so that nothing is ever half-written, and the JSON result files' one format.

* `atomic_write_bytes(path, data)`: readers see either the old file or the whole new one, never a part
  (temporary file in the same folder, fsync, rename, fsync of the folder). Every file the project writes goes
  through it: models, training states, results, images, plots, caches.
* `JsonResult`: the base of the result classes saved as JSON (the divergence sweep, the shift generator's run,
  the 2-D toy GANs). A subclass says what it is (`FORMAT`, `WHAT`) and how it becomes a dict and back; the base
  writes the format tag, checks it on reading, turns every malformed file into one `ConfigError` line, and saves
  and loads atomically.

Nothing here imports torch: the writers are plain bytes and JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Self

from vaegan.errors import ConfigError, WriteError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one, never a part.

    Any OSError on the way (making the folder, the temporary file, writing, fsync, the rename) becomes a WriteError
    that names the file; the temporary file is removed and the previous file under `path` is left as it was.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a weights file is meant to be shared
        os.replace(tmp, path)
        tmp = None
        _fsync_folder(path.parent)
    except OSError as exc:
        raise WriteError(f"could not write {path}: {exc.strerror or exc}; {_previous_file(path)}") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable: without it a power cut can bring back the old directory entry."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # a platform or file system without directory handles (Windows): the rename is all there is
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the data itself was fsynced before the rename
    finally:
        os.close(fd)


def _previous_file(path: Path) -> str:
    try:
        return "the previous file there is unchanged" if path.exists() else "nothing was written"
    except OSError:
        return "nothing was written"


class JsonResult:
    """A result saved as one compact JSON object whose first key, "format", says what it is.

    Subclasses set `FORMAT` (the tag), `WHAT` (what the file is, for messages: "divergence sweep") and
    `MISSING` (the message for a path with no file, with `{path}`), and write `to_payload` (every key but the tag,
    in file order) and `from_payload` (the object back from the parsed dict, tag included)."""

    FORMAT: ClassVar[str]
    WHAT: ClassVar[str]
    MISSING: ClassVar[str] = "no {what} at {path}"

    def to_payload(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Self:
        raise NotImplementedError

    def to_json(self) -> str:
        # No NaN or infinity: JSON has neither, and a reader in another language would choke on Python's spelling.
        return json.dumps({"format": self.FORMAT, **self.to_payload()}, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            data = json.loads(text)
            kind = data.get("format")
            if kind != cls.FORMAT:
                raise ConfigError(f"not a {cls.WHAT} (format {kind!r}, expected {cls.FORMAT!r})")
            return cls.from_payload(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"not a valid {cls.WHAT} JSON: {exc}") from exc

    def save(self, path: str | os.PathLike[str]) -> Path:
        atomic_write_bytes(path, self.to_json().encode())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(cls.MISSING.format(what=cls.WHAT, path=path))
        return cls.from_json(path.read_text())


def json_format(text: str) -> str | None:
    """The "format" tag of a JSON result file's text, or None when it has none (or is not a JSON object)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data.get("format") if isinstance(data, dict) else None
