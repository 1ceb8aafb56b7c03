"""An output directory written as a whole: staged beside its final path, swapped in at the end.

The command-line tools (``curvlab reproduce --out``, ``curvlab prune --out``) write many files.
:class:`StagedDir` makes that all-or-nothing:

* ``open()`` runs before any work: it creates a staging directory next to the final path
  (the same file system, so the final move is a rename) — which is also the check that the
  path can be written — and refuses a non-empty directory unless ``replaceable`` accepts it;
* the caller writes every file into :attr:`StagedDir.stage`;
* ``commit()`` gives every file and directory the permissions the user's umask asks for
  (``0o666 & ~umask`` / ``0o777 & ~umask``; ``tempfile`` creates them 0600 / 0700), then
  renames the old directory aside, the staging directory into place, and deletes the old one;
* on any failure or interrupt before that, ``discard()`` removes the staging directory and
  every parent directory ``open()`` had to create: the old output stays whole, and a run into
  a new path leaves nothing behind.

Every ``OSError`` becomes an :class:`OutputError` whose message is one line naming the path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["OutputError", "StagedDir", "current_umask"]


class OutputError(Exception):
    """The output directory cannot be used or written (one line, names the path and the fix).

    ``status`` is the exit status a command line should use: 2 when the path was refused
    before any work (a bad argument), 1 when saving failed.
    """

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def current_umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class StagedDir:
    """Write a directory ``path`` all at once (see the module docstring).

    replaceable : called with an existing, non-empty ``path``; True lets the run replace it
        (e.g. a previous report). An empty directory is always replaced.
    option : the command-line option named in error messages.
    """

    def __init__(self, path: str | os.PathLike, *, replaceable: Callable[[Path], bool] | None = None,
                 option: str = "--out", prefix: str = ".curvlab-") -> None:
        self.path = Path(path)
        self.option = option
        self.prefix = prefix
        self._replaceable = replaceable or (lambda p: False)
        self.stage: Path | None = None
        self._created: list[Path] = []

    # -- the three steps ------------------------------------------------------------------

    def open(self) -> Path:
        """Check ``path`` and create the staging directory; return it."""
        path = self.path
        where = f"{self.option} {str(path)!r}"
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                raise OutputError(f"{where} exists and is not a directory; choose a new path")
            if any(path.iterdir()) and not self._replaceable(path):
                raise OutputError(f"{where} is a non-empty directory that is not a previous output of this "
                                  "command; choose a new or empty path")
        parent = path.absolute().parent
        missing = []
        for p in (parent, *parent.parents):
            if p.exists():
                break
            missing.append(p)
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._created = missing                      # deepest first: removed in this order
            self.stage = Path(tempfile.mkdtemp(prefix=self.prefix, dir=parent))
        except OSError as exc:
            self._remove_created()
            raise OutputError(f"{where}: cannot write in {str(parent)!r} ({_reason(exc)}); "
                              "choose a writable path") from None
        return self.stage

    def commit(self) -> Path:
        """Apply the umask's permissions and move the staged directory to ``path``."""
        assert self.stage is not None, "open() first"
        try:
            self._apply_umask(self.stage)
            old = None
            if self.path.exists():
                old = Path(tempfile.mkdtemp(prefix=self.prefix + "old-", dir=self.stage.parent))
                old.rmdir()
                self.path.rename(old)
            try:
                self.stage.rename(self.path)
            except OSError:
                if old is not None:
                    old.rename(self.path)
                raise
        except OSError as exc:
            self.discard()
            raise OutputError(f"{self.option} {str(self.path)!r}: could not save ({_reason(exc)})",
                              status=1) from None
        self.stage = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.path

    def discard(self) -> None:
        """Remove the staging directory and the parents ``open()`` created."""
        if self.stage is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage = None
        self._remove_created()

    @contextlib.contextmanager
    def saving(self):
        """Turn an ``OSError`` raised while writing into the stage into a one-line :class:`OutputError`."""
        try:
            yield self.stage
        except OSError as exc:
            name = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
            raise OutputError(f"{self.option} {str(self.path)!r}: could not save{name} ({_reason(exc)})",
                              status=1) from None
        except Exception as exc:
            if type(exc).__name__ != "SafetensorError":   # safetensors reports I/O errors (disk full) as its own
                raise
            raise OutputError(f"{self.option} {str(self.path)!r}: could not save the weights ({exc})",
                              status=1) from None

    # -- context manager: open on enter, discard on an exception ----------------------------

    def __enter__(self) -> StagedDir:
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()

    # -- helpers ------------------------------------------------------------------------------

    def _remove_created(self) -> None:
        for p in self._created:
            try:
                p.rmdir()
            except OSError:
                break
        self._created = []

    @staticmethod
    def _apply_umask(root: Path) -> None:
        mask = current_umask()
        os.chmod(root, 0o777 & ~mask)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o777 & ~mask)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o666 & ~mask)
