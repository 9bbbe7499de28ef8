"""Per-step outputs (MODEL.md "Outputs"): the columns of the results table.

Every column is declared once with :func:`declare_output` (name, unit, meaning),
so that ``docs/odd.md``'s output table is generated from the code. Modules add
their columns with :func:`register_reporter`: a function ``f(model) -> dict``
called once per step after the processes have run. The model gathers the
columns with Mesa's :class:`~mesa.DataCollector` (one model reporter per
column), so ``model.datacollector.get_model_vars_dataframe()`` works as in any
Mesa model.

Shares whose denominator is zero (no needs this step, an empty group) are 0,
never NaN.

A subset of the columns can be computed: ``collect(model, names)`` runs only
the reporters that give the named columns (a reporter registered with
``columns=`` says which it gives; one registered without is run until its
first call has shown them) and returns just those columns;
:func:`select_outputs` checks a list of names and puts it in declaration order
with ``step`` first. Reporters only read the model, so what is collected
never changes a run: the indicators governments act on are computed by
:func:`govsim.evaluation.compute_indicators` whatever is collected.

How the core columns are computed: the adopters per group (urban × age) and
the number aware come from one compiled pass over the citizens; the shares are
plain float divisions of exact counts, and the three population means are
numpy's float64 sums (``np.add.reduce``) divided by the number of citizens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .citizens import AGE_GROUPS
from .compiled import jit


@dataclass(frozen=True)
class Output:
    """Declaration of one results column."""

    name: str
    unit: str
    doc: str


_OUTPUTS: dict[str, Output] = {}
_REPORTERS: list[Callable] = []
#: the columns each reporter gives: declared at registration, else learnt from its calls
_REPORTER_COLUMNS: dict[Callable, frozenset] = {}
#: reporters needed for a tuple of column names (cleared when a reporter or its columns change)
_PLANS: dict[tuple, tuple] = {}


def declare_output(name: str, unit: str, doc: str) -> None:
    """Declare a results column (name, unit, one-line meaning)."""
    _OUTPUTS[name] = Output(name, unit, doc)


def register_reporter(fn: Callable | None = None, *, columns=None) -> Callable:
    """Register ``fn(model) -> {column: value}``, called every step.

    Usable as ``@register_reporter``, ``register_reporter(fn)`` or
    ``@register_reporter(columns=[...])``. ``columns`` (optional) names the
    columns ``fn`` returns, so that ``collect(model, names)`` can skip it when
    none of them is wanted; without it they are learnt from ``fn``'s first
    call. A reporter must only read the model (collecting a subset of the
    columns must not change the run).
    """
    def add(f: Callable) -> Callable:
        if f not in _REPORTERS:
            _REPORTERS.append(f)
        if columns is not None:
            _REPORTER_COLUMNS[f] = frozenset(columns)
        _PLANS.clear()
        return f

    return add if fn is None else add(fn)


def outputs() -> list[Output]:
    """All declared columns, in declaration order."""
    return list(_OUTPUTS.values())


def output_names() -> list[str]:
    """Names of all declared columns."""
    return list(_OUTPUTS)


def select_outputs(names=None) -> tuple[str, ...]:
    """Column names to collect: ``names`` checked, without duplicates, in declaration order, ``step`` first.

    ``None`` gives every declared column. An unknown name raises ``KeyError``
    (with the close matches).

    Examples
    --------
    >>> select_outputs(["mean_trust", "adoption_rate"])
    ('step', 'adoption_rate', 'mean_trust')
    """
    if names is None:
        return tuple(_OUTPUTS)
    if isinstance(names, str):
        names = [names]
    wanted = set(names)
    unknown = sorted(wanted - _OUTPUTS.keys())
    if unknown:
        import difflib

        hints = {u: difflib.get_close_matches(u, list(_OUTPUTS), n=3) for u in unknown}
        raise KeyError(f"outputs: unknown column(s) {unknown} (close matches: {hints}); "
                       "see govsim.metrics.output_names()")
    wanted.add("step")
    return tuple(n for n in _OUTPUTS if n in wanted)


def reporters_for(names) -> list[Callable]:
    """The registered reporters needed to compute the columns ``names`` (in registration order).

    A reporter whose columns are not known yet (registered without
    ``columns=`` and not called since) is always included.
    """
    return list(_plan(tuple(names))[0])


def _plan(key: tuple) -> tuple[tuple, frozenset]:
    """The reporters for the columns ``key`` (a tuple of names) and the set of these names, cached."""
    plan = _PLANS.get(key)
    if plan is None:
        wanted = frozenset(key)
        plan = _PLANS[key] = (tuple(fn for fn in _REPORTERS if fn not in _REPORTER_COLUMNS
                                    or not wanted.isdisjoint(_REPORTER_COLUMNS[fn])), wanted)
    return plan


def _learn(fn: Callable, part: dict) -> None:
    """Record the columns a reporter returned (their union over calls)."""
    known = _REPORTER_COLUMNS.get(fn)
    if known is None or not known.issuperset(part):
        _REPORTER_COLUMNS[fn] = frozenset(part) if known is None else known | frozenset(part)
        _PLANS.clear()


def collect(model, names=None) -> dict:
    """Compute the columns for the model's current state: every column, or only ``names``.

    Parameters
    ----------
    model : GovModel
    names : sequence of str, optional
        Columns to compute (declared names, e.g. from :func:`select_outputs`).
        Only the reporters giving them are called; the returned dict holds
        exactly these columns, in this order. ``None``: every reporter, every
        column.
    """
    row: dict = {}
    if names is None:
        for fn in _REPORTERS:
            part = fn(model)
            row.update(part)
            if fn not in _REPORTER_COLUMNS:
                _learn(fn, part)
        if not row.keys() >= _OUTPUTS.keys():
            missing = set(_OUTPUTS) - set(row)
            raise RuntimeError(f"outputs declared but not reported: {sorted(missing)}")
        return row
    if isinstance(names, str):
        names = (names,)
    plan, wanted = _plan(names if type(names) is tuple else tuple(names))
    for fn in plan:
        part = fn(model)
        row.update(part)
        if fn not in _REPORTER_COLUMNS:
            _learn(fn, part)
    if not row.keys() >= wanted:  # a reporter gave other columns than learnt: run the others too
        for fn in _REPORTERS:
            if fn not in plan:
                part = fn(model)
                row.update(part)
                _learn(fn, part)
        missing = set(names) - row.keys()
        if missing:
            raise RuntimeError(f"outputs not reported: {sorted(missing)}")
    return {n: row[n] for n in names}


def safe_share(num, den):
    """num / den, and 0 where den is 0 (arrays or scalars)."""
    if type(num) in _SCALARS and type(den) in _SCALARS:  # scalar fast path (same float64 division)
        den = float(den)
        return float(num) / den if den > 0 else 0.0
    if (type(num) is np.ndarray and type(den) is np.ndarray and num.ndim and num.shape == den.shape
            and num.dtype == np.float64 and den.dtype.kind in "fiub"):  # array fast path (same division)
        return np.divide(num, den, out=np.zeros(num.shape), where=den > 0)
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)
    return out if out.ndim else float(out)


_SCALARS = frozenset((int, float, np.float64, np.float32, np.int64, np.int32, np.intp))


def key_labels(model) -> tuple[np.ndarray, np.ndarray]:
    """Static label of each citizen, region × 6 + urban × 3 + age group (``intp``), and citizens per label.

    Computed once per model and cached (``intp`` labels make ``np.bincount``
    take its fast path).
    """
    cached = model.__dict__.get("_key_labels")
    if cached is None:
        pop = model.citizens
        k = len(AGE_GROUPS)
        st = getattr(model, "channel_state", None)
        if st is not None and st.key.dtype == np.intp:  # the same labels (govsim.channels)
            lab = st.key
        else:
            lab = pop.region.astype(np.intp) * (2 * k)
            lab += pop.urban.astype(np.intp) * k
            lab += pop.age_group
        counts = np.bincount(lab, minlength=model.n_regions * 2 * k).astype(float)
        cached = (lab, counts)
        model.__dict__["_key_labels"] = cached
    return cached


def label_bounds(model) -> np.ndarray | None:
    """Where each label of :func:`key_labels` starts and ends, if the labels are sorted (else ``None``).

    :func:`govsim.citizens.create_population` numbers citizens by block, so
    the labels of a model's population are sorted and every label is one
    contiguous slice ``bounds[k]:bounds[k + 1]`` (cached).
    """
    cached = model.__dict__.get("_label_bounds", False)
    if cached is False:
        lab, counts = key_labels(model)
        cached = None
        if lab.size and bool(np.all(lab[1:] >= lab[:-1])):
            cached = np.searchsorted(lab, np.arange(counts.size + 1))
        model.__dict__["_label_bounds"] = cached
    return cached


def segment_counts(flags: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Number of true ``flags`` in each slice ``bounds[k]:bounds[k + 1]`` (float64, exact)."""
    if flags.size < 1 << 17:  # small: one reduceat over the non-empty slices
        starts, ends = bounds[:-1], bounds[1:]
        full = starts < ends
        out = np.zeros(starts.size)
        if full.any():
            out[full] = np.add.reduceat(flags.view(np.uint8), starts[full], dtype=np.intp)
        return out
    # large: count_nonzero per slice (vectorised popcount, far faster than a cast and an add)
    return np.array([np.count_nonzero(flags[a:b]) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())],
                    dtype=float)


@jit(inline="always")
def _count_true(b8, b64, a, b):
    """Number of true flags in ``b8[a:b]`` (bytes 0/1); ``b64`` is the same memory as uint64 words.

    Whole words are counted eight flags at a time (the bytes of a word times
    0x0101010101010101 sum into its top byte).
    """
    c = 0
    while a < b and (a & 7) != 0:
        c += b8[a]
        a += 1
    j, je = a >> 3, b >> 3
    acc = np.uint64(0)
    ones, shift = np.uint64(0x0101010101010101), np.uint64(56)
    while j < je:
        acc += (b64[j] * ones) >> shift
        j += 1
    c += np.int64(acc)
    a = max(a, je << 3)
    while a < b:
        c += b8[a]
        a += 1
    return c


@jit
def _adopters_aware(lab, bounds, adopted, aware, n_keys):
    """Adopters per label (int64, length ``n_keys``) and the number aware, in one call.

    ``bounds`` (from :func:`label_bounds`; empty if the labels are not sorted)
    makes every label a slice whose flags are counted a word at a time.
    """
    n = adopted.size
    a8 = adopted.view(np.uint8)
    w8 = aware.view(np.uint8)
    a64 = a8[:n - n % 8].view(np.uint64)
    w64 = w8[:n - n % 8].view(np.uint64)
    by_key = np.zeros(n_keys, dtype=np.int64)
    if bounds.size == n_keys + 1:
        for k in range(n_keys):
            by_key[k] = _count_true(a8, a64, bounds[k], bounds[k + 1])
    else:
        for i in range(n):
            by_key[lab[i]] += a8[i]
    return by_key, _count_true(w8, w64, 0, n)


_NO_BOUNDS = np.zeros(0, dtype=np.intp)


def _flags(x: np.ndarray) -> np.ndarray:
    """A bool array as a contiguous bool array (the kernels view it as bytes and words)."""
    return x if x.flags.c_contiguous and x.dtype == np.bool_ else np.ascontiguousarray(x, dtype=np.bool_)


def adopters_by_key(model) -> np.ndarray:
    """Adopters per label of :func:`key_labels` (float64, exact counts), for the current state."""
    lab, counts = key_labels(model)
    bounds = label_bounds(model)
    pop = model.citizens
    by_key = _adopters_aware(lab, _NO_BOUNDS if bounds is None else bounds, _flags(pop.adopted),
                             _flags(pop.aware), counts.size)[0]
    return by_key.astype(np.float64)


def pairwise_sum(values: list) -> float:
    """Sum of Python floats in the order of numpy's pairwise summation (``np.add.reduce`` of a float64 array).

    For n < 8 a plain sum from 0.0; up to 128, eight interleaved partial sums
    combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the
    rest; above, the two halves (split at a multiple of 8) summed recursively.
    Gives the same bits as ``float(np.add.reduce(np.array(values)))`` for a
    1-D contiguous float64 array, without numpy's call overhead on short lists.

    Examples
    --------
    >>> xs = [0.1 * i for i in range(1, 40)]
    >>> pairwise_sum(xs) == float(np.add.reduce(np.array(xs)))
    True
    """
    n = len(values)
    if n < 8:
        res = 0.0
        for v in values:
            res += v
        return res
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = values[:8]
        m = n - n % 8
        for i in range(8, m, 8):
            r0 += values[i]
            r1 += values[i + 1]
            r2 += values[i + 2]
            r3 += values[i + 3]
            r4 += values[i + 4]
            r5 += values[i + 5]
            r6 += values[i + 6]
            r7 += values[i + 7]
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(m, n):
            res += values[i]
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(values[:n2]) + pairwise_sum(values[n2:])


def mean_of(x) -> float:
    """``float(np.mean(x))`` of a small 1-D float64 or integer array (or list), without ``np.mean``'s overhead.

    The same float64 pairwise sum (:func:`pairwise_sum`) divided by the count,
    hence the same bits. Not for float32 input (``np.mean`` would sum it in
    float32).
    """
    if type(x) is np.ndarray:
        if x.ndim != 1 or x.size > 128:
            a = np.asarray(x, dtype=np.float64)
            return float(np.add.reduce(a) / a.size)
        vals = x.tolist() if x.dtype == np.float64 else [float(v) for v in x.tolist()]
    else:
        vals = [float(v) for v in x]
    n = len(vals)
    return pairwise_sum(vals) / n if n else float("nan")


def group_shares(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of ``values`` within each group label 0..n_groups-1 (0 for an empty group)."""
    counts = np.bincount(groups, minlength=n_groups)
    sums = np.bincount(groups, weights=values, minlength=n_groups)
    return safe_share(sums, counts)


def concentration_index(values: np.ndarray, rank_by: np.ndarray) -> float:
    """Concentration index of ``values`` over the ranking by ``rank_by`` (ascending).

    CI = 2 cov(h, r) / mean(h), with r the fractional rank in [0, 1]
    (O'Donnell et al. 2008, eq. 8.7). Negative: ``values`` concentrate among the
    low-ranked (e.g. time costs borne by the least literate). 0 if the mean is 0.

    Examples
    --------
    >>> concentration_index(np.array([4.0, 3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    -0.25
    """
    h = np.asarray(values, dtype=float)
    n = h.size
    mean = h.mean() if n else 0.0
    if n == 0 or mean == 0:
        return 0.0
    order = np.argsort(rank_by, kind="stable")
    r = np.empty(n)
    r[order] = (np.arange(n) + 0.5) / n
    return float(2.0 * np.mean((h - mean) * (r - r.mean())) / mean)


_CORE_DECLS = [
    ("step", "steps", "model step (0 = initial state; one step is one month)"),
    ("adoption_rate", "share", "share of citizens who have adopted (use the online channel)"),
    ("aware_rate", "share", "share of citizens aware of the online services"),
    ("online_need_share", "share", "share of this step's needs served online"),
    ("adoption_urban", "share", "adoption rate among urban citizens"),
    ("adoption_rural", "share", "adoption rate among rural citizens"),
    *[(f"adoption_{g}", "share", f"adoption rate in age group {g}") for g in AGE_GROUPS],
    ("gap_urban_rural", "difference of shares", "adoption_urban − adoption_rural"),
    ("gap_young_elderly", "difference of shares", "adoption_young − adoption_elderly"),
    ("needs", "needs", "service needs arising this step"),
    ("needs_online", "needs", "needs served online this step"),
    ("needs_offline", "needs", "needs served at an offline window this step"),
    ("needs_unmet", "needs", "needs left unmet this step (exclusion)"),
    ("exclusion_rate", "per 1,000 needs", "unmet needs per 1,000 needs this step"),
    ("online_failure_rate", "share", "share of online attempts (needs) that failed this step"),
    ("time_per_need", "hours", "mean hours spent per need this step"),
    ("mean_literacy", "[0, 1]", "mean digital literacy"),
    ("mean_trust", "[0, 1]", "mean trust in government"),
    ("mean_satisfaction", "[0, 1]", "mean satisfaction"),
]
for _name, _unit, _doc in _CORE_DECLS:
    declare_output(_name, _unit, _doc)
_CORE_COLUMNS = tuple(d[0] for d in _CORE_DECLS)


def _group_sizes(model) -> tuple[float, float, list[float]]:
    """Citizens who are rural, urban, and in each age group (exact, as floats; static, cached)."""
    cached = model.__dict__.get("_group_sizes")
    if cached is None:
        k = len(AGE_GROUPS)
        counts = key_labels(model)[1].reshape(-1, 2, k).sum(axis=0)  # exact counts: the order does not matter
        cached = (float(counts[0].sum()), float(counts[1].sum()), counts.sum(axis=0).tolist())
        model.__dict__["_group_sizes"] = cached
    return cached


_RATE_COLUMNS = ("step", "adoption_rate", "aware_rate")


@register_reporter(columns=_RATE_COLUMNS[:2])
def _rates(model) -> dict:
    """The step and the adoption rate alone: what a diffusion run collects, one count and no tallies."""
    pop = model.citizens
    return {"step": int(model.time_step), "adoption_rate": np.count_nonzero(pop.adopted) / pop.n}


@register_reporter(columns=_RATE_COLUMNS[2:])
def _aware_rate(model) -> dict:
    """The share of citizens aware of online services (its own reporter: a diffusion run does not need it)."""
    pop = model.citizens
    return {"aware_rate": np.count_nonzero(pop.aware) / pop.n}


@register_reporter(columns=tuple(c for c in _CORE_COLUMNS if c not in _RATE_COLUMNS))
def _core(model) -> dict:
    pop = model.citizens
    c = model.step_counts
    n = pop.n
    k = len(AGE_GROUPS)
    lab, key_counts = key_labels(model)
    bounds = label_bounds(model)
    by_key, _ = _adopters_aware(lab, _NO_BOUNDS if bounds is None else bounds, _flags(pop.adopted),
                                      _flags(pop.aware), key_counts.size)
    keys = by_key.tolist()
    by_group = [sum(keys[g::2 * k]) for g in range(2 * k)]  # exact counts: rural ages, then urban ages
    n_rural, n_urban, n_age = _group_sizes(model)
    rural = sum(by_group[:k])
    urban = sum(by_group[k:])
    a_urban = urban / n_urban if n_urban > 0 else 0.0
    a_rural = rural / n_rural if n_rural > 0 else 0.0
    by_age = [(by_group[i] + by_group[k + i]) / n_age[i] if n_age[i] > 0 else 0.0 for i in range(k)]
    needs = float(c["needs"])
    attempts = float(c["online_attempts"])
    f64 = np.float64
    row = {
        "online_need_share": float(c["needs_online"]) / needs if needs > 0 else 0.0,
        "adoption_urban": a_urban,
        "adoption_rural": a_rural,
        "gap_urban_rural": a_urban - a_rural,
        "gap_young_elderly": by_age[0] - by_age[2],
        "needs": c["needs"],
        "needs_online": c["needs_online"],
        "needs_offline": c["needs_offline"],
        "needs_unmet": c["needs_unmet"],
        "exclusion_rate": 1000.0 * (float(c["needs_unmet"]) / needs if needs > 0 else 0.0),
        "online_failure_rate": float(c["online_failures"]) / attempts if attempts > 0 else 0.0,
        "time_per_need": float(c["hours"]) / needs if needs > 0 else 0.0,
        # np.mean's float64 pairwise sum, divided by n (the same bits, without np.mean's overhead)
        "mean_literacy": float(np.add.reduce(pop.literacy, dtype=f64) / n),
        "mean_trust": float(np.add.reduce(pop.trust, dtype=f64) / n),
        "mean_satisfaction": float(np.add.reduce(pop.satisfaction, dtype=f64) / n),
    }
    for i, g in enumerate(AGE_GROUPS):
        row[f"adoption_{g}"] = by_age[i]
    return row


def output_table_markdown() -> str:
    """The output table of ``docs/odd.md``, generated from the declarations."""
    lines = ["| column | unit | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{o.name}` | {o.unit} | {o.doc} |" for o in outputs()]
    return "\n".join(lines)
