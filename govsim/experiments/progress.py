"""Progress of an experiment: a tqdm bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def _fmt_seconds(s: float) -> str:
    s = max(0.0, s)
    if s < 90:
        return f"{s:.0f}s"
    if s < 5400:
        return f"{s / 60:.1f}min"
    return f"{s / 3600:.1f}h"


def _terminal_size(stream) -> tuple[int, int]:
    """(columns, lines) of the terminal ``stream`` is on ((0, 0) when unknown)."""
    import os

    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return 0, 0
    return size.columns, size.lines


class Progress:
    """Report runs done / total with an ETA.

    Parameters
    ----------
    total : int
        Runs in the experiment.
    initial : int
        Runs already finished (resumed experiment); the ETA counts only new runs.
    label : str
    mode : None, bool or callable
        ``None``/``True``: a tqdm bar if ``stream`` is a terminal, else a plain
        line every ``interval`` seconds and at the end; ``False``: silent; a
        callable is called as ``mode(done, total)`` after every run.
    stream : file, default sys.stderr
    interval : float
        Seconds between plain lines.

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> p = Progress(4, label="demo", stream=buf, interval=0)
    >>> for _ in range(4):
    ...     p.update()
    >>> p.close()
    >>> buf.getvalue().splitlines()[-1].startswith("demo: 4/4 runs")
    True
    """

    def __init__(self, total: int, initial: int = 0, label: str = "", mode: bool | Callable | None = None,
                 stream=None, interval: float = 10.0):
        self.total = int(total)
        self.done = int(initial)
        self.initial = int(initial)
        self.failed = 0
        self.label = label or "runs"
        self.stream = stream if stream is not None else sys.stderr
        self.interval = float(interval)
        self.callback = mode if callable(mode) else None
        self._bar = None
        self._plain = False
        self._start = time.monotonic()
        self._last = self._start
        self._first = None  # time of the first run finished here (workers have started by then)
        if mode is False or self.callback is not None:
            return
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if tty:
            from tqdm import tqdm

            # a pseudo-terminal may report a size of 0 × 0 (script, some CI runners,
            # ``docker exec -t``), with which tqdm prints nothing: assume 80 × 24 then
            sized = min(_terminal_size(self.stream)) > 0
            self._bar = tqdm(total=self.total, initial=self.initial, desc=self.label, unit="run",
                             file=self.stream, dynamic_ncols=sized, ncols=None if sized else 80,
                             nrows=None if sized else 24, smoothing=0.1)
        else:
            self._plain = True
            resumed = f" ({self.initial} already done)" if self.initial else ""
            print(f"{self.label}: {self.total} runs{resumed}", file=self.stream, flush=True)

    def update(self, ok: bool = True) -> None:
        """Count one more finished (or failed) run."""
        self.done += 1
        if self._first is None:
            self._first = time.monotonic()
        if not ok:
            self.failed += 1
        if self.callback is not None:
            self.callback(self.done, self.total)
        elif self._bar is not None:
            self._bar.update(1)
            if self.failed:
                self._bar.set_postfix(failed=self.failed, refresh=False)
        elif self._plain:
            now = time.monotonic()
            if now - self._last >= self.interval and self.done < self.total:
                self._last = now
                self._line()

    def _line(self) -> None:
        now = time.monotonic()
        el = now - self._start
        new = self.done - self.initial
        left = self.total - self.done
        # the rate is measured from the first finished run, so that the time
        # workers take to start does not inflate the ETA
        if new >= 2 and now > self._first:
            eta_s = _fmt_seconds((now - self._first) / (new - 1) * left)
        elif new and left == 0:
            eta_s = "0s"
        else:
            eta_s = "?"
        pct = 100.0 * self.done / self.total if self.total else 100.0
        fail = f", {self.failed} failed" if self.failed else ""
        print(f"{self.label}: {self.done}/{self.total} runs ({pct:.0f}%){fail}, {_fmt_seconds(el)} elapsed, "
              f"ETA {eta_s}", file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar or print the last line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._plain:
            self._line()
            self._plain = False
