"""Files tcglab writes: atomically, and JSON by one rule.

Every file (``run --json``, compare's ``--json``/``--csv``/``--plot``) is written through
:func:`write_atomic`: a temporary file in the same directory, then ``os.replace``, so an
interrupted write leaves the old file or none, never half of one.

Every JSON text (those files and ``plugins --json``) comes from :func:`json_text`, the
one place that decides what JSON cannot hold: a float that is not finite (NaN, +-inf) is
written as ``null``, as JavaScript's ``JSON.stringify`` does, so that any JSON reader
accepts the file; any other value JSON has no type for (a path, a set) is written as its
``str()``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any, Callable

from .errors import TcglabError


def write_atomic(path: str, write: Callable[[Any], None], *, what: str = "",
                 binary: bool = False) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then ``os.replace`` it.

    On any error or interrupt the temporary file is removed and ``path`` is untouched;
    an OSError becomes a one-line :class:`TcglabError` naming ``what`` (e.g. ``--json``).
    """
    directory = os.path.dirname(os.path.abspath(path))
    label = f"{what} {path}" if what else path
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=directory)
        os.chmod(tmp, _new_file_mode())  # mkstemp's 0600 would stick after os.replace
        if binary:
            with os.fdopen(fd, "wb") as f:
                write(f)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                write(f)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise TcglabError(f"{label}: cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0666 less the umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def check_writable(path: str, what: str) -> None:
    """Fail early (before a long run or grid) if ``path`` cannot be created."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TcglabError(f"{what} {path}: no such directory: {directory}")
    if os.path.isdir(path):
        raise TcglabError(f"{what} {path}: is a directory")
    if not os.access(directory, os.W_OK):
        raise TcglabError(f"{what} {path}: directory not writable: {directory}")


# -- JSON ---------------------------------------------------------------------------------


def json_ready(value: Any) -> Any:
    """``value`` with what JSON cannot hold replaced (see the module docstring): dicts,
    lists and tuples are walked; strings (enum members too), ints, bools and None pass."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return str(value)


def json_text(data: Any) -> str:
    """``data`` as indented JSON text (no final newline)."""
    return json.dumps(json_ready(data), indent=2, allow_nan=False)


def write_json(path: str, data: Any, what: str = "--json") -> None:
    """``data`` as :func:`json_text` and a newline, written atomically to ``path``."""
    def write(f: Any) -> None:
        f.write(json_text(data))
        f.write("\n")
    write_atomic(path, write, what=what)


__all__ = ["check_writable", "json_ready", "json_text", "write_atomic", "write_json"]
