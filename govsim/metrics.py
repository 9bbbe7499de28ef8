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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .citizens import AGE_GROUPS


@dataclass(frozen=True)
class Output:
    """Declaration of one results column."""

    name: str
    unit: str
    doc: str


_OUTPUTS: dict[str, Output] = {}
_REPORTERS: list[Callable] = []


def declare_output(name: str, unit: str, doc: str) -> None:
    """Declare a results column (name, unit, one-line meaning)."""
    _OUTPUTS[name] = Output(name, unit, doc)


def register_reporter(fn: Callable) -> Callable:
    """Register ``fn(model) -> {column: value}``, called every step."""
    if fn not in _REPORTERS:
        _REPORTERS.append(fn)
    return fn


def outputs() -> list[Output]:
    """All declared columns, in declaration order."""
    return list(_OUTPUTS.values())


def output_names() -> list[str]:
    """Names of all declared columns."""
    return list(_OUTPUTS)


def collect(model) -> dict:
    """Compute every column for the model's current state."""
    row: dict = {}
    for fn in _REPORTERS:
        row.update(fn(model))
    if not row.keys() >= _OUTPUTS.keys():
        missing = set(_OUTPUTS) - set(row)
        raise RuntimeError(f"outputs declared but not reported: {sorted(missing)}")
    return row


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


def adopters_by_key(model) -> np.ndarray:
    """Adopters per label of :func:`key_labels` (float64, exact counts), for the current state."""
    lab, counts = key_labels(model)
    bounds = label_bounds(model)
    if bounds is not None:  # contiguous labels: count per slice
        return segment_counts(model.citizens.adopted, bounds)
    return np.bincount(lab, weights=model.citizens.adopted, minlength=counts.size)


def mean_of(x) -> float:
    """``float(np.mean(x))`` of a small 1-D float64 or integer array (or list), without ``np.mean``'s overhead.

    The same float64 pairwise sum divided by the count, hence the same bits.
    Not for float32 input (``np.mean`` would sum it in float32).
    """
    a = np.asarray(x, dtype=np.float64)
    return float(np.add.reduce(a) / a.size)


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


for _name, _unit, _doc in [
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
]:
    declare_output(_name, _unit, _doc)


@register_reporter
def _core(model) -> dict:
    pop = model.citizens
    c = model.step_counts
    n = pop.n
    k = len(AGE_GROUPS)
    _, key_counts = key_labels(model)
    by_key = adopters_by_key(model).reshape(-1, 2, k)  # region, rural/urban, age
    counts = key_counts.reshape(-1, 2, k)
    place = by_key.sum(axis=(0, 2))
    place_n = counts.sum(axis=(0, 2))
    by_age = safe_share(by_key.sum(axis=(0, 1)), counts.sum(axis=(0, 1)))
    a_urban = safe_share(float(place[1]), float(place_n[1]))
    a_rural = safe_share(float(place[0]), float(place_n[0]))
    f64 = np.float64
    row = {
        "step": int(model.time_step),
        "adoption_rate": float(place.sum()) / n,
        "aware_rate": np.count_nonzero(pop.aware) / n,
        "online_need_share": safe_share(c["needs_online"], c["needs"]),
        "adoption_urban": a_urban,
        "adoption_rural": a_rural,
        "gap_urban_rural": a_urban - a_rural,
        "gap_young_elderly": float(by_age[0] - by_age[2]),
        "needs": c["needs"],
        "needs_online": c["needs_online"],
        "needs_offline": c["needs_offline"],
        "needs_unmet": c["needs_unmet"],
        "exclusion_rate": 1000.0 * safe_share(c["needs_unmet"], c["needs"]),
        "online_failure_rate": safe_share(c["online_failures"], c["online_attempts"]),
        "time_per_need": safe_share(c["hours"], c["needs"]),
        # np.mean's float64 pairwise sum, divided by n (the same bits, without np.mean's overhead)
        "mean_literacy": float(np.add.reduce(pop.literacy, dtype=f64) / n),
        "mean_trust": float(np.add.reduce(pop.trust, dtype=f64) / n),
        "mean_satisfaction": float(np.add.reduce(pop.satisfaction, dtype=f64) / n),
    }
    for i, g in enumerate(AGE_GROUPS):
        row[f"adoption_{g}"] = float(by_age[i])
    return row


def output_table_markdown() -> str:
    """The output table of ``docs/odd.md``, generated from the declarations."""
    lines = ["| column | unit | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{o.name}` | {o.unit} | {o.doc} |" for o in outputs()]
    return "\n".join(lines)
