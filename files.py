"""Writing a file whole or not at all.

Study caches, results CSVs and the remote code copied next to weights are read back by later runs and by other
processes (one per rank, or parallel jobs). Writing in place means a kill mid-write leaves half a file that the next
run cannot parse, or a CSV that has lost its rows. Each write here goes to a private temporary file in the same
folder and is renamed over the target, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike, data: bytes | str, mode: int | None = None) -> None:
    """Replace `path` with `data` (str is written as UTF-8) in one rename; the folder is created if needed.

    `mode`: the file's permission bits; by default those of the file it replaces, or 0o644 for a new one (the
    temporary file starts private, 0o600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
