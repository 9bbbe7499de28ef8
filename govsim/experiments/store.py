"""The experiment store: results stream to disk as runs finish, and resume.

Layout of an experiment folder (``--out DIR``)::

    DIR/
      manifest.json             spec, spec hash, every run's seed and status,
                                versions, git commit, times (rewritten atomically)
      design.parquet / .csv     the design points (sweep, sa)
      parts/series/run-000123.parquet   per-step table of run 123
      parts/scalars/run-000123.parquet  scalar outputs of run 123 (sa)
      errors/run-000007.json    a run that raised: its error and traceback
      results.parquet ...       final tables, consolidated from the parts

Every file is written to a hidden temporary name in its folder and renamed
into place, so a file under its final name is always complete. A run is
finished when its part in ``parts/<primary>/`` exists (``scalars`` for sa,
``series`` otherwise; other tables of the run are written first). On start the
store reads the finished runs from the disk, so re-running the same command
after a crash (even SIGKILL) computes only the missing runs. Failed runs are
retried by a re-run. The folder is locked (``flock`` on ``.lock``) while an
experiment runs in it; the lock dies with the process.

The final tables are built by streaming the parts in run-index order through a
:class:`TableSink` (``pyarrow.parquet.ParquetWriter``, bounded buffer), so
memory does not grow with the number of runs and the tables are identical
whatever the executor and the order in which runs finished.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from .jobs import Outcome
from .spec import ExperimentSpec

__all__ = ["DiskStore", "MemoryStore", "TableSink", "read_manifest"]

MANIFEST = "manifest.json"
_PART = re.compile(r"^run-(\d+)\.parquet$")
CSV_MAX_ROWS = 1_000_000


def part_name(index: int) -> str:
    """File name of run ``index``'s part (``run-000123.parquet``)."""
    return f"run-{index:06d}.parquet"


def _file_mode() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return 0o666 & ~old


FILE_MODE = _file_mode()


def _mkstemp(folder: Path, name: str) -> tuple[int, str]:
    """A hidden temporary file beside ``folder/name`` with the usual permissions."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.fchmod(fd, FILE_MODE)
    return fd, tmp


def _atomic_bytes(path: Path, data: bytes) -> None:
    fd, tmp = _mkstemp(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_json(path: Path, data: Any) -> None:
    from ..results import _json_default

    text = json.dumps(_finite(data), indent=2, default=_json_default, allow_nan=False) + "\n"
    _atomic_bytes(Path(path), text.encode())


def _finite(obj: Any) -> Any:
    """Replace NaN and infinities by None, recursively (strict JSON)."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of an experiment folder, or None if it has none.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from govsim.experiments import replicate
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "exp"
    >>> _ = replicate("baseline", reps=2, steps=2, overrides={"citizens.n": 200}, workers=1, progress=False, out=out)
    >>> man = read_manifest(out)
    >>> man["status"], man["counts"]["done"], [r["status"] for r in man["runs"]]
    ('complete', 2, ['done', 'done'])
    >>> sorted(k for k in man["versions"] if k in ("govsim", "mesa", "numpy", "SALib"))
    ['SALib', 'govsim', 'mesa', 'numpy']
    """
    p = Path(folder) / MANIFEST
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return None


class TableSink:
    """Stream pandas chunks into ``NAME.parquet`` (and ``NAME.csv``), atomically.

    Chunks are buffered up to ``rows`` rows per Parquet row group; every
    ``max_chunks`` chunks the buffer is merged into one table, so that many
    small parts (a few rows each) do not pile up thousands of small tables
    and their per-table overhead. The files appear under their final names
    only on :meth:`close`; :meth:`abort` (or an exception inside ``with``)
    removes the temporary files.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with TableSink(d, "t") as sink:
    ...     sink.write(pd.DataFrame({"a": [1, 2]}))
    ...     sink.write(pd.DataFrame({"a": [3]}))
    >>> pd.read_parquet(d / "t.parquet")["a"].tolist()
    [1, 2, 3]
    """

    def __init__(self, folder: Path, name: str, csv: bool = True, rows: int = 16_384, max_chunks: int = 64):
        self.folder = Path(folder)
        self.name = name
        self.csv = csv
        self.rows = rows
        self.max_chunks = max(2, int(max_chunks))
        self._buf: list = []
        self._nbuf = 0
        self._writer = None
        self._csv_writer = None
        self._tmp: list[str] = []
        self.schema = None
        self.n_rows = 0

    def _open(self, schema):
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        self.schema = schema
        fd, tmp = _mkstemp(self.folder, f"{self.name}.parquet")
        os.close(fd)
        self._tmp.append(tmp)
        self._writer = pq.ParquetWriter(tmp, schema)
        if self.csv:
            fd, tmpc = _mkstemp(self.folder, f"{self.name}.csv")
            os.close(fd)
            self._tmp.append(tmpc)
            self._csv_fh = open(tmpc, "wb")
            self._csv_writer = pacsv.CSVWriter(self._csv_fh, schema,
                                               write_options=pacsv.WriteOptions(quoting_style="needed"))

    def write(self, chunk) -> None:
        """Append a DataFrame or pyarrow Table."""
        import pyarrow as pa

        if isinstance(chunk, pd.DataFrame):
            chunk = pa.Table.from_pandas(chunk, preserve_index=False).replace_schema_metadata(None)
        if chunk.num_rows == 0 and self.schema is not None:
            return
        if self.schema is None:
            self._open(chunk.schema)
        elif chunk.schema != self.schema:
            try:
                chunk = chunk.select(self.schema.names).cast(self.schema)
            except (KeyError, ValueError, TypeError, pa.ArrowInvalid) as exc:
                raise ValueError(f"{self.name}: a part does not match the table's columns ({exc})") from None
        self._buf.append(chunk)
        self._nbuf += chunk.num_rows
        self.n_rows += chunk.num_rows
        if self._nbuf >= self.rows:
            self._flush()
        elif len(self._buf) >= self.max_chunks:
            self._buf = [pa.concat_tables(self._buf).combine_chunks()]

    def _flush(self):
        import pyarrow as pa

        if not self._buf:
            return
        table = pa.concat_tables(self._buf)
        self._buf, self._nbuf = [], 0
        self._writer.write_table(table)
        if self._csv_writer is not None:
            self._csv_writer.write_table(table)

    def close(self) -> bool:
        """Finish the files and move them into place; False if nothing was written."""
        if self._writer is None:
            return False
        self._flush()
        self._writer.close()
        os.replace(self._tmp[0], self.folder / f"{self.name}.parquet")
        if self._csv_writer is not None:
            self._csv_writer.close()
            self._csv_fh.close()
            os.replace(self._tmp[1], self.folder / f"{self.name}.csv")
        else:
            stale = self.folder / f"{self.name}.csv"
            if stale.exists():
                stale.unlink()
        self._writer = None
        return True

    def abort(self) -> None:
        """Drop the temporary files."""
        try:
            if self._writer is not None:
                self._writer.close()
            if self._csv_writer is not None:
                self._csv_writer.close()
                self._csv_fh.close()
        except Exception:  # noqa: BLE001
            pass
        for t in self._tmp:
            if os.path.exists(t):
                os.unlink(t)
        self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


class _BaseStore:
    """What the engine needs from a store."""

    spec: ExperimentSpec
    encodes = False
    folder: Path | None = None

    def __init__(self, spec: ExperimentSpec):
        self.spec = spec
        self.status = np.zeros(spec.n_runs, dtype=np.int8)  # 0 pending, 1 done, 2 failed
        self.errors: dict[int, dict] = {}
        self.extra: dict = {}

    # status ---------------------------------------------------------------
    def done(self) -> set[int]:
        """Indices of finished runs."""
        return set(np.flatnonzero(self.status == 1).tolist())

    def failed(self) -> dict[int, dict]:
        """Failed runs: index -> error dict."""
        return {i: self.errors[i] for i in sorted(self.errors) if self.status[i] == 2}

    def counts(self) -> dict:
        return {"total": int(self.spec.n_runs), "done": int((self.status == 1).sum()),
                "failed": int((self.status == 2).sum()), "pending": int((self.status == 0).sum())}

    def _error_record(self, outcome: Outcome) -> dict:
        task = self.spec.task(outcome.index)
        return {"index": task.index, "point": task.point, "rep": task.rep, "seed": task.seed,
                "overrides": {k: (list(v) if isinstance(v, tuple) else v) for k, v in task.overrides.items()},
                **(outcome.error or {}), "seconds": round(outcome.seconds, 4)}


class MemoryStore(_BaseStore):
    """Keep every run's tables in memory (small experiments, plain functions)."""

    def __init__(self, spec: ExperimentSpec):
        super().__init__(spec)
        self._tables: dict[int, Mapping[str, Any]] = {}

    def check(self) -> None:
        """Nothing on disk to check."""

    def open(self) -> set[int]:
        return set()

    def lock(self):
        from contextlib import nullcontext

        return nullcontext()

    def record(self, outcome: Outcome) -> None:
        if outcome.ok:
            self._tables[outcome.index] = outcome.tables
            self.status[outcome.index] = 1
            self.errors.pop(outcome.index, None)
        else:
            self.errors[outcome.index] = self._error_record(outcome)
            self.status[outcome.index] = 2

    def stream(self, table: str, indices: Iterable[int] | None = None) -> Iterator[tuple[int, Any]]:
        """(index, DataFrame) of ``table`` for finished runs, in index order."""
        for i in sorted(self._tables) if indices is None else indices:
            t = self._tables.get(i, {}).get(table)
            if t is not None:
                yield i, t

    def sink(self, name: str, csv: bool = True):
        return _MemorySink(self, name)

    def write_manifest(self, status: str, **extra) -> None:
        self.extra.update(extra)
        self.manifest = {"status": status, "counts": self.counts(), **self.extra}

    def write_table(self, df: pd.DataFrame, name: str) -> None:
        self.final[name] = df

    @property
    def final(self) -> dict:
        if not hasattr(self, "_final"):
            self._final = {}
        return self._final

    def maybe_manifest(self, status: str = "running") -> None:
        pass


class _MemorySink:
    def __init__(self, store: MemoryStore, name: str):
        self.store, self.name, self.chunks, self.n_rows = store, name, [], 0

    def write(self, chunk):
        if not isinstance(chunk, pd.DataFrame):
            chunk = chunk.to_pandas()
        self.chunks.append(chunk)
        self.n_rows += len(chunk)

    def close(self):
        if self.chunks:
            self.store.final[self.name] = pd.concat(self.chunks, ignore_index=True)
            return True
        return False

    def abort(self):
        self.chunks = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        if exc_type is None:
            self.close()
        return False


class DiskStore(_BaseStore):
    """Stream an experiment's runs to ``folder`` and resume from it.

    Parameters
    ----------
    folder : str or Path
        The experiment folder (``--out``).
    spec : ExperimentSpec
    manifest_interval : float
        Seconds between rewrites of the manifest while runs go on.

    Examples
    --------
    >>> import tempfile, pathlib, govsim
    >>> from govsim.experiments import replicate_spec
    >>> spec = replicate_spec(govsim.load_scenario("baseline", {"citizens.n": 200}), reps=2, steps=2)
    >>> store = DiskStore(pathlib.Path(tempfile.mkdtemp()) / "exp", spec)
    >>> store.check()          # validates the folder, writes nothing
    'new'
    """

    encodes = True

    def __init__(self, folder: str | Path, spec: ExperimentSpec, manifest_interval: float = 5.0):
        super().__init__(spec)
        self.folder = Path(folder)
        self.manifest_interval = manifest_interval
        self._last_manifest = 0.0
        self._lock_fh = None
        self._created = None
        self._resumes = 0
        self._versions = None
        self._commit = None

    # -- before anything is written -----------------------------------------------
    def check(self) -> str:
        """Check the folder can hold this experiment; returns ``"new"`` or ``"resume"``.

        Raises ScenarioError (and writes nothing) if the folder holds a
        different experiment or other files.
        """
        f = self.folder
        if f.exists() and not f.is_dir():
            raise ScenarioError(f"--out {str(f)!r} exists and is not a folder", key="out")
        if not f.exists():
            return "new"
        man = read_manifest(f)
        if man is None:
            if any(not p.name.startswith(".") for p in f.iterdir()):
                raise ScenarioError(f"--out {str(f)!r} is not empty and holds no govsim experiment; "
                                    "choose a new folder", key="out")
            return "new"
        old = man.get("spec_hash")
        if old != self.spec.hash:
            raise ScenarioError(
                f"--out {str(f)!r} holds a different experiment (spec {old}, this one {self.spec.hash}: "
                f"{_first_difference(man.get('spec', {}), self.spec.to_json())}); use another --out to run it",
                key="out")
        return "resume"

    # -- opening -------------------------------------------------------------------
    def lock(self):
        """Context manager holding an exclusive lock on the folder."""
        import fcntl
        from contextlib import contextmanager

        @contextmanager
        def _lock():
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.folder / ".lock", "a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                raise ScenarioError(f"--out {str(self.folder)!r} is in use by another govsim process",
                                    key="out") from None
            self._lock_fh = fh
            try:
                yield self
            finally:
                try:
                    fcntl.flock(fh, fcntl.LOCK_UN)
                finally:
                    fh.close()
                    self._lock_fh = None

        return _lock()

    def _dir(self, *parts: str) -> Path:
        return self.folder.joinpath(*parts)

    def open(self) -> set[int]:
        """Create the layout, clean temporary files, read finished and failed runs.

        Returns the set of finished run indices.
        """
        from ..results import git_commit, versions

        self.check()  # again, under the lock: another process may have started meanwhile
        f = self.folder
        for sub in ("parts", "errors"):
            self._dir(sub).mkdir(parents=True, exist_ok=True)
        tables = {self.spec.primary_table}
        if self.spec.kind == "sa" and self.spec.keep_series:
            tables.add("series")
        for t in tables:
            self._dir("parts", t).mkdir(exist_ok=True)
        for folder in [f, self._dir("errors"), *[self._dir("parts", t) for t in tables]]:
            for p in folder.iterdir():
                if p.is_file() and p.name.startswith(".") and p.name.endswith(".tmp"):
                    p.unlink()
        for p in f.iterdir():
            if p.is_dir() and p.name.startswith(".") and ".tmp-" in p.name:
                shutil.rmtree(p, ignore_errors=True)
        old = read_manifest(f)
        if old is not None:
            self._created = old.get("created")
            self._resumes = int(old.get("resumes", 0)) + 1
        self._created = self._created or datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._versions = versions()
        self._commit = git_commit()
        self.scan()
        self.write_manifest("running")
        return self.done()

    def scan(self) -> set[int]:
        """Read the finished and failed runs from the folder (writes nothing)."""
        n = self.spec.n_runs
        self.status[:] = 0
        self.errors.clear()
        parts = self._dir("parts", self.spec.primary_table)
        if parts.is_dir():
            for p in parts.iterdir():
                m = _PART.match(p.name)
                if m and int(m.group(1)) < n:
                    self.status[int(m.group(1))] = 1
        errors = self._dir("errors")
        if errors.is_dir():
            for p in errors.iterdir():
                m = re.match(r"^run-(\d+)\.json$", p.name)
                if m and int(m.group(1)) < n and self.status[int(m.group(1))] == 0:
                    try:
                        self.errors[int(m.group(1))] = json.loads(p.read_text())
                    except (OSError, json.JSONDecodeError):
                        continue
                    self.status[int(m.group(1))] = 2
        return self.done()

    def write_design(self, design: pd.DataFrame) -> None:
        """Write the design table (once; it is fixed by the spec hash)."""
        if not all((self.folder / f"design.{ext}").exists() for ext in ("parquet", "csv")):
            self.write_table(design, "design")

    # -- while running ----------------------------------------------------------------
    def record(self, outcome: Outcome) -> None:
        """Write a finished run's parts (or its error) atomically."""
        i = outcome.index
        name = part_name(i)
        err = self._dir("errors", f"run-{i:06d}.json")
        if outcome.ok:
            primary = self.spec.primary_table
            tables = dict(outcome.tables)
            for t, data in tables.items():
                if t != primary:
                    self._write_part(t, name, data)
            self._write_part(primary, name, tables[primary])
            self.status[i] = 1
            self.errors.pop(i, None)
            if err.exists():
                err.unlink()
        else:
            rec = self._error_record(outcome)
            _write_json(err, rec)
            self.errors[i] = rec
            self.status[i] = 2
        self.maybe_manifest()

    def _write_part(self, table: str, name: str, data) -> None:
        from .jobs import encode_table

        folder = self._dir("parts", table)
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
        _atomic_bytes(folder / name, data if isinstance(data, bytes) else encode_table(data))

    def maybe_manifest(self, status: str = "running") -> None:
        """Rewrite the manifest if ``manifest_interval`` seconds have passed."""
        now = time.monotonic()
        if now - self._last_manifest >= self.manifest_interval:
            self.write_manifest(status)

    def write_manifest(self, status: str, **extra) -> None:
        """Rewrite ``manifest.json`` atomically with every run's status."""
        self.extra.update(extra)
        spec = self.spec
        names = ("pending", "done", "failed")
        if getattr(self, "_seeds", None) is None:
            self._seeds = spec.seeds()
        seeds = self._seeds
        runs = []
        for i in range(spec.n_runs):
            point, rep = divmod(i, spec.reps)
            runs.append({"index": i, "point": point, "rep": rep, "seed": int(seeds[i]),
                         "status": names[int(self.status[i])]})
        failed = [{"index": i, "type": e.get("type"), "message": e.get("message")}
                  for i, e in self.failed().items()]
        sc = spec.scenario
        data = {
            "govsim_experiment": 1,
            "command": spec.kind,
            "status": status,
            "spec_hash": spec.hash,
            "experiment_seed": spec.seed,
            "counts": self.counts(),
            "failed_runs": failed,
            **self.extra,
            "spec": spec.to_json(),
            "scenario": sc.to_dict() if sc is not None else None,
            "runs": runs,
            "versions": self._versions,
            "git_commit": self._commit,
            "created": self._created,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "resumes": self._resumes,
        }
        _write_json(self.folder / MANIFEST, data)
        self._last_manifest = time.monotonic()

    # -- reading back --------------------------------------------------------------------
    def stream(self, table: str, indices: Iterable[int] | None = None) -> Iterator[tuple[int, Any]]:
        """(index, pyarrow Table) of ``table`` for finished runs, in index order."""
        import pyarrow.parquet as pq

        folder = self._dir("parts", table)
        order = np.flatnonzero(self.status == 1).tolist() if indices is None else indices
        for i in order:
            p = folder / part_name(i)
            if p.exists():
                yield i, pq.read_table(p)

    def sink(self, name: str, csv: bool = True) -> TableSink:
        """A :class:`TableSink` writing ``name.parquet`` (and ``.csv``) into the folder."""
        return TableSink(self.folder, name, csv=csv)

    def write_table(self, df: pd.DataFrame, name: str) -> None:
        """Write a small table (Parquet and CSV) atomically."""
        with self.sink(name) as s:
            s.write(df)


def _first_difference(old: Mapping, new: Mapping) -> str:
    """A few words naming the first field that differs between two spec dicts."""
    keys = ["kind", "steps", "seed", "reps", "n_points", "design_columns", "design_sha256", "outputs", "model",
            "function", "sa", "keep_series"]
    for k in keys:
        if old.get(k) != new.get(k):
            return f"{k} differs"
    a, b = (old.get("scenario") or {}).get("parameters", {}), (new.get("scenario") or {}).get("parameters", {})
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            return f"scenario parameter {k} differs ({a.get(k)!r} vs {b.get(k)!r})"
    return "scenario differs"


def read_errors(folder: str | Path) -> dict[int, dict]:
    """The error records of an experiment folder, by run index."""
    out = {}
    for p in sorted((Path(folder) / "errors").glob("run-*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out[int(rec["index"])] = rec
    return out

