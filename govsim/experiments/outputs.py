"""Scalar outputs: one number per run, derived from its per-step results.

Sensitivity analysis (and the summaries of sweeps and replications) needs one
number per run. A scalar output is written as a short, readable spec naming a
results column (see ``govsim params`` / :func:`govsim.metrics.output_names`):

=============================  ===============================================
spec                           value
=============================  ===============================================
``COL`` or ``final:COL``       value of ``COL`` at the last step
``at:COL:T``                   value at step ``T``
``mean:COL``                   mean over steps 1 .. last (step 0 excluded)
``mean:COL:A:B``               mean over steps ``A`` .. ``B`` (inclusive)
``min:COL[:A:B]``              minimum (over all steps, or the window)
``max:COL[:A:B]``              maximum (over all steps, or the window)
``first_step:COL>=LEVEL``      first step at which ``COL >= LEVEL`` (also
                               ``>``, ``<=``, ``<``; quote it in a shell);
                               ``steps + 1`` if never reached within the run
                               (right-censored)
``first_step:COL:LEVEL``       the same as ``first_step:COL>=LEVEL``
=============================  ===============================================

Specs are validated up front (unknown column with a did-you-mean, unknown
function, window outside ``0 .. steps``) by :func:`parse_output`, which raises
:class:`govsim.ScenarioError` so that the command line exits 2 before running
anything.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ScenarioError

__all__ = ["ScalarOutput", "parse_output", "parse_outputs", "FUNCTIONS"]

FUNCTIONS = ("final", "at", "mean", "min", "max", "first_step")
_COMPARE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class ScalarOutput:
    """A validated scalar output spec.

    Attributes
    ----------
    spec : str
        The canonical spec, used as the column name in result tables
        (``"final:adoption_rate"``, ``"mean:adoption_rate:60:120"``).
    func : str
        One of :data:`FUNCTIONS`.
    column : str
        The results column it reads.
    start, end : int or None
        Window of steps (inclusive); ``None`` means the default of ``func``.
    op, level : str, float
        Comparison of ``first_step``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"step": [0, 1, 2, 3], "x": [0.0, 0.2, 0.6, 0.9]})
    >>> parse_output("first_step:x>=0.5", columns=["step", "x"]).evaluate(df)
    2.0
    >>> parse_output("mean:x:1:2", columns=["step", "x"]).evaluate(df)
    0.4
    """

    spec: str
    func: str
    column: str
    start: int | None = None
    end: int | None = None
    op: str | None = None
    level: float | None = None

    def evaluate(self, df: pd.DataFrame) -> float:
        """The output's value for one run's per-step table ``df``."""
        steps = df["step"].to_numpy()
        x = df[self.column].to_numpy(dtype=float)
        last = int(steps[-1])
        if self.func == "final":
            return float(x[-1])
        if self.func == "at":
            hit = np.flatnonzero(steps == self.start)
            if hit.size == 0:
                raise ValueError(f"{self.spec}: the run has no step {self.start}")
            return float(x[hit[0]])
        if self.func == "first_step":
            cmp = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}[self.op]
            hit = np.flatnonzero(cmp(x, self.level))
            return float(steps[hit[0]]) if hit.size else float(last + 1)
        lo = 1 if self.start is None else self.start
        hi = last if self.end is None else self.end
        if self.start is None and last == 0:
            lo = 0
        sel = x[(steps >= lo) & (steps <= hi)]
        if sel.size == 0:
            raise ValueError(f"{self.spec}: no steps in the window {lo}..{hi}")
        if self.func == "mean":
            return float(sel.mean())
        if self.func == "min":
            return float(sel.min())
        return float(sel.max())

    def check_steps(self, steps: int) -> None:
        """Raise ScenarioError if the spec's steps fall outside ``0 .. steps``."""
        for s in (self.start, self.end):
            if s is not None and not 0 <= s <= steps:
                raise ScenarioError(f"output {self.spec!r}: step {s} is outside the run's steps 0..{steps}",
                                    key="output")


def _int(text: str, spec: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise ScenarioError(f"output {spec!r}: expected an integer step, got {text!r}", key="output") from None
    return v


def parse_output(spec: str, columns: Sequence[str] | None = None, steps: int | None = None) -> ScalarOutput:
    """Parse and validate one scalar output spec.

    Parameters
    ----------
    spec : str
        See the module docstring (``"final:adoption_rate"``,
        ``"mean:adoption_rate:60:120"``, ``"first_step:adoption_rate>=0.5"``).
    columns : sequence of str, optional
        Allowed column names (default: :func:`govsim.metrics.output_names`).
    steps : int, optional
        Steps of a run; when given, windows are checked against ``0 .. steps``.

    Returns
    -------
    ScalarOutput

    Raises
    ------
    govsim.ScenarioError
        Unknown function or column (with a did-you-mean), malformed window or
        comparison.

    Examples
    --------
    >>> parse_output("adoption_rate").spec
    'final:adoption_rate'
    >>> parse_output("mean:adoption_rate:60:120", steps=120).func
    'mean'
    >>> parse_output("final:adoption_rat")
    Traceback (most recent call last):
    ...
    govsim.errors.ScenarioError: output: unknown output 'adoption_rat' in 'final:adoption_rat' (did you mean 'adoption_rate'?)
    """
    if columns is None:
        from ..metrics import output_names

        columns = output_names()
    allowed = [c for c in columns if c != "step"]
    text = str(spec).strip()
    if not text:
        raise ScenarioError("empty output spec", key="output")
    parts = text.split(":")
    if len(parts) == 1:
        func, rest = "final", parts
    else:
        func, rest = parts[0].strip(), [p.strip() for p in parts[1:]]
    if func not in FUNCTIONS:
        raise ScenarioError(f"unknown output function {func!r} in {text!r}; allowed: {', '.join(FUNCTIONS)}"
                            + _did_you_mean(func, FUNCTIONS), key="output")

    def column(name: str) -> str:
        if name not in allowed:
            raise ScenarioError(f"unknown output {name!r} in {text!r}" + _did_you_mean(name, allowed), key="output")
        return name

    if func == "first_step":
        if len(rest) == 2:  # first_step:COL:LEVEL is first_step:COL>=LEVEL (no shell quoting needed)
            rest = [f"{rest[0]}>={rest[1]}"]
        if len(rest) != 1 or not _COMPARE.match(rest[0]):
            raise ScenarioError(f"output {text!r}: expected first_step:COLUMN>=LEVEL (or >, <=, <)", key="output")
        col, op, level = _COMPARE.match(rest[0]).groups()
        try:
            lv = float(level)
        except ValueError:
            raise ScenarioError(f"output {text!r}: level {level!r} is not a number", key="output") from None
        if not math.isfinite(lv):
            raise ScenarioError(f"output {text!r}: level must be finite", key="output")
        out = ScalarOutput(f"first_step:{column(col)}{op}{level}", func, col, op=op, level=lv)
    elif func == "final":
        if len(rest) != 1:
            raise ScenarioError(f"output {text!r}: expected final:COLUMN", key="output")
        out = ScalarOutput(f"final:{column(rest[0])}", func, rest[0])
    elif func == "at":
        if len(rest) != 2:
            raise ScenarioError(f"output {text!r}: expected at:COLUMN:STEP", key="output")
        t = _int(rest[1], text)
        out = ScalarOutput(f"at:{column(rest[0])}:{t}", func, rest[0], start=t)
    else:
        if len(rest) == 1:
            out = ScalarOutput(f"{func}:{column(rest[0])}", func, rest[0])
        elif len(rest) == 3:
            a, b = _int(rest[1], text), _int(rest[2], text)
            if a > b:
                raise ScenarioError(f"output {text!r}: window start {a} is after its end {b}", key="output")
            out = ScalarOutput(f"{func}:{column(rest[0])}:{a}:{b}", func, rest[0], start=a, end=b)
        else:
            raise ScenarioError(f"output {text!r}: expected {func}:COLUMN or {func}:COLUMN:START:END", key="output")
    if steps is not None:
        out.check_steps(steps)
    return out


def parse_outputs(specs: Iterable[str], columns: Sequence[str] | None = None,
                  steps: int | None = None) -> list[ScalarOutput]:
    """Parse several specs; duplicates (after canonicalisation) are an error.

    Examples
    --------
    >>> [o.spec for o in parse_outputs(["adoption_rate", "first_step:adoption_rate:0.5"])]
    ['final:adoption_rate', 'first_step:adoption_rate>=0.5']
    >>> parse_outputs(["adoption_rate", "final:adoption_rate"])
    Traceback (most recent call last):
    ...
    govsim.errors.ScenarioError: output: output 'final:adoption_rate' given twice
    """
    out: list[ScalarOutput] = []
    for s in specs:
        o = parse_output(s, columns, steps)
        if any(o.spec == p.spec for p in out):
            raise ScenarioError(f"output {o.spec!r} given twice", key="output")
        out.append(o)
    return out
