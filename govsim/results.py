"""Writing results: tables (Parquet and CSV), a JSON manifest and figures.

Output folders are written atomically: everything goes to a hidden temporary
folder beside the target, which is renamed into place only when complete, so an
error or an interruption never leaves a half-written folder.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

PACKAGES = ("govsim", "mesa", "numpy", "pandas", "scipy", "networkx", "SALib", "pyarrow", "matplotlib")


def versions() -> dict[str, str]:
    """Versions of Python and the packages a run depends on."""
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_commit() -> str | None:
    """The git commit of the govsim source tree, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0:
        return None
    commit = res.stdout.strip()
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return commit + ("-dirty" if dirty else "")


def manifest(scenario, **extra) -> dict:
    """The manifest of a run or experiment: scenario, seeds, versions, commit, time."""
    return {
        "scenario": scenario.to_dict() if scenario is not None else None,
        **extra,
        "versions": versions(),
        "git_commit": git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_json(path: Path, data: Mapping) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, default=_json_default)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_default(obj):
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def write_table(df: pd.DataFrame, folder: Path, name: str, csv: bool = True) -> None:
    """Write ``name.parquet`` (and ``name.csv``) into ``folder``."""
    df.to_parquet(Path(folder) / f"{name}.parquet", index=False)
    if csv:
        df.to_csv(Path(folder) / f"{name}.csv", index=False)


@contextmanager
def atomic_folder(target: str | Path):
    """Yield a temporary folder that replaces ``target`` only on success.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_folder(root / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in (root / "out").iterdir())
    ['a.txt']
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
