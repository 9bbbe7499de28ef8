"""Social networks for govsim, stored as compressed sparse row (CSR) arrays.

Layout
------
A :class:`Network` is an undirected simple graph (no self-loops, no
multi-edges) on the nodes ``0 .. n-1``.  Its adjacency is held in two flat
numpy arrays, exactly as in ``scipy.sparse.csr_array``:

``indptr``  (int64, length ``n + 1``)
    ``indptr[i]:indptr[i + 1]`` is the slice of ``indices`` that holds the
    neighbours of node ``i``; hence ``degree = np.diff(indptr)``.
``indices`` (int32, or int64 when ``n >= 2**31``, length ``2 * n_edges``)
    The neighbours of every node, row after row, sorted ascending inside each
    row.  The matrix is symmetric: edge ``{u, v}`` appears once in row ``u``
    and once in row ``v``.

The mean-field ``"complete"`` graph is *implicit*: both arrays are ``None``
and every neighbourhood quantity is computed in closed form (for instance the
neighbour sum is ``x.sum() - x``), so no ``n**2`` edge list is ever built.

Why CSR
-------
* **Speed.**  The model's hot path is "what share of my neighbours have
  adopted?", evaluated for every agent every step.  On CSR arrays this is one
  sparse matrix-vector product ``A @ x`` (compiled code, a single pass over
  ``indices``): about 20 ms for 10**6 nodes with mean degree 10 on one core.
  A Python loop over per-agent neighbour lists is about two orders of
  magnitude slower.
* **Memory.**  10**6 nodes with mean degree 10 need 10**7 int32 indices plus
  10**6 + 1 int64 offsets, about 48 MB in total.  A networkx graph of the same
  size (a dict of dicts per node) needs gigabytes.  Mesa's own network spaces
  (``mesa.space.NetworkGrid``, ``mesa.discrete_space.Network``) wrap such a
  networkx graph, create one Python object per node (a ``Cell`` with its own
  neighbour dict) and are drawn with ``networkx.spring_layout`` -- fine for a
  few hundred agents, impractical for a million.
* **Construction.**  Every generator here is vectorised: edges are drawn as
  whole arrays of endpoints from a ``numpy.random.Generator`` (never the
  global random state, so a seed fixes the network exactly), canonicalised to
  ``u < v``, encoded as one int64 key ``u * n + v``, deduplicated by sorting
  and turned into CSR by a single shared routine.  No Python object is created
  per node or per edge (except in :func:`from_networkx`, whose input already is
  one).

Scenario parameters
-------------------
This module declares ``network.kind`` (one of :data:`KINDS`),
``network.mean_degree``, ``network.homophily.mixing`` and
``network.watts_strogatz.beta``; :func:`build_network` turns a scenario and
its population into a :class:`Network`.

Generators
----------
:func:`complete`, :func:`erdos_renyi`, :func:`watts_strogatz`,
:func:`barabasi_albert`, :func:`homophily` (the model's default: a stochastic
block model over socio-demographic groups), :func:`from_networkx` and
:func:`from_edges`.

Examples
--------
>>> import numpy as np
>>> from govsim.networks import homophily
>>> rng = np.random.default_rng(1)
>>> groups = rng.integers(0, 4, size=1000)
>>> net = homophily(groups, mean_degree=8, mixing=0.2, rng=rng)
>>> net.n, net.n_edges
(1000, 4000)
>>> adopted = rng.random(net.n) < 0.1
>>> share = net.neighbour_share(adopted)   # share of adopting neighbours
>>> share.shape, share.dtype
((1000,), dtype('float64'))
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np
import scipy.sparse

from .compiled import jit
from .config import Param, declare
from .errors import ScenarioError

#: a neighbour sum over at least this many stored entries runs as two row halves on two
#: threads when two cores are available (the compiled row sums release the GIL, and every
#: row is summed exactly as in one call, so the result is the same to the bit); set it
#: very large to stay on one thread
PARALLEL_MIN_NNZ = 1 << 22
_POOL: list = []


def _n_threads() -> int:
    try:
        return min(2, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return min(2, os.cpu_count() or 1)


def _pool():
    """The two-thread pool of large neighbour sums (created on first use; a forked child makes its own)."""
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL.append(ThreadPoolExecutor(max_workers=2, thread_name_prefix="govsim-spmv"))
    return _POOL[0]


if hasattr(os, "register_at_fork"):  # a forked child has no pool threads: let it build its own
    os.register_at_fork(after_in_child=_POOL.clear)

#: the compiled row sums visit the rows in blocks of this many consecutive rows, by degree
#: within a block (see :meth:`Network.row_order`)
ROW_BLOCK = 256


@jit(inline="always")
def _row_sum(indptr, indices, x, i):  # pragma: no cover - compiled
    """Σ x[j] over the stored neighbours j of row i, from 0.0 in stored order: the same float64 additions in the
    same order as scipy's CSR product with unit weights (so the same bits); unsigned indices spare the compiled
    loop its negative-index checks."""
    s = 0.0
    for e in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
        s += x[np.uint64(indices[e])]
    return s


@jit
def _row_sums(indptr, indices, order, x, out, lo, hi):  # pragma: no cover - compiled
    """``out[i] = Σ x[j]`` over the stored neighbours j of the rows ``i = order[lo:hi]`` (:func:`_row_sum`)."""
    for pos in range(lo, hi):
        i = np.uint64(order[pos])
        out[i] = _row_sum(indptr, indices, x, i)


__all__ = [
    "Network",
    "complete",
    "erdos_renyi",
    "watts_strogatz",
    "barabasi_albert",
    "homophily",
    "from_networkx",
    "from_edges",
    "build_network",
    "KINDS",
]

#: Network kinds selectable with the scenario parameter ``network.kind``.
KINDS = ("homophily", "erdos_renyi", "watts_strogatz", "barabasi_albert", "complete")

declare(
    Param("network.kind", str, "homophily", "social network generator", choices=KINDS,
          source="MODEL.md; homophily of social ties: McPherson, Smith-Lovin & Cook (2001)"),
    Param("network.mean_degree", float, 10.0, "mean number of contacts per citizen (ignored by 'complete')",
          unit="contacts", low=0.0, high=100_000.0,
          source="assumption: a handful to a dozen regular contacts; baseline scenario value"),
    Param("network.homophily.mixing", float, 0.3,
          "expected share of contacts joining two different groups (region x urban/rural x age)",
          unit="share", low=0.0, high=1.0, source="assumption: strong but not total homophily"),
    Param("network.watts_strogatz.beta", float, 0.1, "rewiring probability of the small-world network",
          unit="share", low=0.0, high=1.0, source="Watts & Strogatz (1998): small-world regime"),
)

#: Largest ``n`` for which the int64 edge key ``u * n + v`` cannot overflow.
_MAX_N = 3_037_000_499
#: Largest number of stored (directed) entries of an implicit complete graph
#: that :meth:`Network.to_scipy` / :meth:`Network.edges` will materialise.
_MAX_MATERIALISE = 50_000_000


# --------------------------------------------------------------------------
# argument validation
# --------------------------------------------------------------------------
def _check_n(n: Any, name: str = "n", minimum: int = 1) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    n = int(n)
    if n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n}")
    if n > _MAX_N:
        raise ValueError(f"{name} must be <= {_MAX_N} (int64 edge keys), got {n}")
    return n


def _check_real(x: Any, name: str, lo: float, hi: float | None = None) -> float:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        allowed = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be a real number {allowed}, got {x!r}")
    x = float(x)
    if not math.isfinite(x) or x < lo or (hi is not None and x > hi):
        allowed = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be a finite number {allowed}, got {x!r}")
    return x


def _check_mean_degree(mean_degree: Any, n: int) -> float:
    """Mean degree in [0, n); values above n - 1 are capped at n - 1."""
    md = _check_real(mean_degree, "mean_degree", 0.0)
    if md >= n:
        raise ValueError(
            f"mean_degree must be < n (at most n - 1 = {n - 1} neighbours per node), "
            f"got mean_degree={mean_degree!r} with n={n}"
        )
    return min(md, float(n - 1))


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def _n_target_edges(n: int, md: float) -> int:
    return min(int(round(n * md / 2.0)), n * (n - 1) // 2)


# --------------------------------------------------------------------------
# sorted-key helpers (np.unique is avoided: it is slow on large int64 arrays
# in recent numpy releases)
# --------------------------------------------------------------------------
def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (sort + neighbour mask)."""
    s = np.sort(a)
    if s.size <= 1:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _in_sorted(sorted_arr: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``q`` occur in ``sorted_arr`` (``q`` best sorted)."""
    if sorted_arr.size == 0 or q.size == 0:
        return np.zeros(q.shape, dtype=bool)
    pos = np.searchsorted(sorted_arr, q)
    np.minimum(pos, sorted_arr.size - 1, out=pos)
    return sorted_arr[pos] == q


#: Proposals are generated in chunks of this many pairs to bound temporaries.
_CHUNK = 1 << 20


def _chunked(total: int, make) -> np.ndarray:
    """Concatenate ``make(k)`` over chunks of ``total`` (bounds peak memory)."""
    if total <= _CHUNK:
        return make(total)
    sizes = [_CHUNK] * (total // _CHUNK) + ([total % _CHUNK] if total % _CHUNK else [])
    return np.concatenate([make(k) for k in sizes])


def _edge_keys(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """int64 key ``min(u, v) * n + max(u, v)`` of each (non-loop) pair."""
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    lo = np.minimum(u, v)
    hi = np.maximum(u, v)
    lo *= n
    lo += hi
    return lo


#: key arrays up to this size are sorted by a compiled radix sort (:func:`_radix_sort`), faster
#: than ``np.sort`` while its buckets stay in cache; larger ones by ``np.sort``
_RADIX_MAX = 1 << 19


@jit
def _radix_sort(a, bits, passes):
    """Sorted copy of non-negative int64 ``a``: LSD radix sort, ``passes`` digits of ``bits`` bits."""
    n = a.size
    src = a.copy()
    if passes == 0 or n < 2:
        return src
    dst = np.empty(n, dtype=np.int64)
    nb = 1 << bits
    mask = np.int64(nb - 1)
    cnt = np.empty(nb + 1, dtype=np.int64)
    for p in range(passes):
        shift = p * bits
        cnt[:] = 0
        for i in range(n):
            cnt[((src[i] >> shift) & mask) + 1] += 1
        for d in range(nb):
            cnt[d + 1] += cnt[d]
        for i in range(n):
            x = src[i]
            d = (x >> shift) & mask
            dst[cnt[d]] = x
            cnt[d] += 1
        src, dst = dst, src
    return src


def _sort_keys(keys: np.ndarray, n: int) -> np.ndarray:
    """Sorted copy of edge keys in ``[0, n * n)`` (radix sort when small, else ``np.sort``)."""
    if keys.size > _RADIX_MAX:
        return np.sort(keys)
    width = max(n * n - 1, 0).bit_length()
    passes = -(-width // 14)
    bits = -(-width // passes) if passes else 0
    return _radix_sort(np.ascontiguousarray(keys, dtype=np.int64), bits, passes)


@jit
def _unique_new(sorted_cand, keys):
    """Distinct values of sorted ``sorted_cand`` that are not in sorted-unique ``keys`` (one merge walk)."""
    out = np.empty(sorted_cand.size, dtype=np.int64)
    c = 0
    j = 0
    nk = keys.size
    for i in range(sorted_cand.size):
        x = sorted_cand[i]
        if i > 0 and x == sorted_cand[i - 1]:
            continue
        while j < nk and keys[j] < x:
            j += 1
        if j < nk and keys[j] == x:
            continue
        out[c] = x
        c += 1
    return out[:c]


@jit
def _merge_sorted(a, b):
    """Sorted union of two sorted int64 arrays with no value in common."""
    out = np.empty(a.size + b.size, dtype=np.int64)
    i = 0
    j = 0
    for o in range(out.size):
        if j >= b.size or (i < a.size and a[i] < b[j]):
            out[o] = a[i]
            i += 1
        else:
            out[o] = b[j]
            j += 1
    return out


def _merge_new_keys(
    keys: np.ndarray, cand: np.ndarray, need: int, rng: np.random.Generator, n: int
) -> np.ndarray:
    """Add up to ``need`` keys of ``cand`` that are new to sorted-unique ``keys``.

    ``cand`` is deduplicated and filtered against ``keys``; if more than
    ``need`` new keys remain, a uniformly random subset of ``need`` of them is
    kept (a choice that does not depend on the key values, so uniform
    samplers stay uniform).  Returns the merged sorted-unique key array.
    ``cand`` are keys of ``n`` nodes.  (One sort of ``cand``,
    :func:`_sort_keys`, then compiled merge walks: :func:`_unique_new`,
    :func:`_merge_sorted`.)
    """
    new = _unique_new(_sort_keys(cand, n), keys)
    extra = new.size - need
    if extra > 0:
        drop = rng.choice(new.size, size=extra, replace=False)
        new = np.delete(new, drop)
    if keys.size == 0:
        return new
    return _merge_sorted(keys, new)


def _add_uniform_edges(
    n: int, keys: np.ndarray, need: int, rng: np.random.Generator
) -> np.ndarray:
    """Add ``need`` uniformly random node pairs that are not yet in ``keys``.

    ``keys`` are sorted-unique int64 keys ``u * n + v`` with ``u < v``.  The
    result is uniform over all ways to choose the new pairs.  Sparse targets use
    rejection sampling of random pairs; dense ones (more than half of all pairs)
    enumerate the free pairs, which then number at most twice the output.
    """
    keys = np.asarray(keys, dtype=np.int64)
    if need <= 0:
        return keys
    total = n * (n - 1) // 2
    if keys.size + need > total:
        raise ValueError(f"cannot place {need} more edges among n={n} nodes")
    if 2 * (keys.size + need) > total:
        a, b = np.triu_indices(n, 1)
        allk = a.astype(np.int64) * n + b
        del a, b
        free = allk[~_in_sorted(keys, allk)] if keys.size else allk
        pick = np.sort(rng.choice(free.size, size=need, replace=False))
        new = free[pick]
        if keys.size == 0:
            return new
        return np.insert(keys, np.searchsorted(keys, new), new)

    def propose(k: int) -> np.ndarray:
        u = rng.integers(0, n, size=k)
        v = rng.integers(0, n, size=k)
        ok = u != v
        return _edge_keys(u[ok], v[ok], n)

    while need > 0:
        # expected acceptance: not a self-loop, not an existing pair
        acc = max(0.05, (1.0 - 1.0 / n) * (1.0 - (keys.size + need) / total))
        k = int(need / acc * 1.002) + 64
        cand = _chunked(k, propose)
        before = keys.size
        keys = _merge_new_keys(keys, cand, need, rng, n)
        need -= keys.size - before
    return keys


# --------------------------------------------------------------------------
# the one shared CSR construction
# --------------------------------------------------------------------------
@jit
def _csr_fill(n, keys, indptr, indices, up_pos, lo_pos):
    """Fill ``indptr`` (length ``n + 1``) and ``indices`` from sorted-unique upper keys (two passes).

    The keys are sorted, so the row ``u`` of key ``u * n + v`` never decreases
    along them: it is followed by comparison, without a division.
    """
    lo_cnt = np.zeros(n + 1, dtype=np.int64)
    a = 0
    row_end = n  # (a + 1) * n
    for j in range(keys.size):
        k = keys[j]
        while k >= row_end:
            a += 1
            row_end += n
        indptr[a + 1] += 1
        lo_cnt[k - (row_end - n)] += 1
    # row r: lower part (neighbours below r) at indptr[r], upper part right after it
    acc = 0
    for r in range(n):
        lo_pos[r] = acc
        up_pos[r] = acc + lo_cnt[r]
        acc += lo_cnt[r] + indptr[r + 1]
        indptr[r + 1] = acc
    indptr[0] = 0
    a = 0
    row_end = n
    for j in range(keys.size):
        k = keys[j]
        while k >= row_end:
            a += 1
            row_end += n
        b = k - (row_end - n)
        indices[up_pos[a]] = b
        up_pos[a] += 1
        indices[lo_pos[b]] = a
        lo_pos[b] += 1


def _csr_from_keys(n: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric CSR ``(indptr, indices)`` from sorted-unique upper keys.

    ``keys`` must be sorted, distinct int64 values ``u * n + v`` with
    ``u < v``.  Row ``r`` of the result is [neighbours below ``r``] followed by
    [neighbours above ``r``].  One compiled pass (:func:`_csr_fill`) counts
    both parts of every row, a second places every key twice: ``v`` into the
    upper part of row ``u`` and ``u`` into the lower part of row ``v``.  As
    the keys are sorted by ``(u, v)``, both parts fill in ascending order, so
    no further sort is needed; everything is O(n + m).
    """
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    idx_dtype = np.int32 if n < 2**31 else np.int64
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(2 * keys.size, dtype=idx_dtype)
    if n:
        # write cursors of the rows' two parts (int32 while the offsets fit: half the cache footprint)
        pos_dtype = np.int32 if 2 * keys.size < 2**31 else np.int64
        _csr_fill(n, keys, indptr, indices, np.empty(n, dtype=pos_dtype), np.empty(n, dtype=pos_dtype))
    return indptr, indices


# --------------------------------------------------------------------------
# the Network class
# --------------------------------------------------------------------------
class Network:
    """Undirected simple graph in CSR form (symmetric: each edge stored in both rows).

    Instances are built by the generator functions of this module
    (:func:`homophily`, :func:`erdos_renyi`, ...); the constructor only wraps
    arrays that already satisfy the invariants below (use :meth:`validate` to
    check them, or :func:`from_edges` to build from arbitrary endpoint lists).
    The arrays are made read-only because derived quantities are cached.

    Parameters
    ----------
    n : int
        Number of nodes, labelled ``0 .. n-1``.
    kind : str
        Generator name: ``"complete"``, ``"erdos_renyi"``, ``"watts_strogatz"``,
        ``"barabasi_albert"``, ``"homophily"``, ``"networkx"`` or ``"edges"``.
    indptr : numpy.ndarray of int64, shape (n + 1,), or None
        Row offsets into ``indices``; ``None`` only for the implicit
        complete graph.
    indices : numpy.ndarray of int32 (int64 if n >= 2**31), or None
        Concatenated neighbour lists, sorted within each row; ``None`` only for
        the implicit complete graph.
    node_labels : list or None, optional
        Original node labels (``from_networkx``), ``node_labels[i]`` being the
        label of node ``i``; ``None`` for generated graphs.
    params : dict, optional
        Generator parameters, kept for provenance.

    Attributes
    ----------
    n, kind, indptr, indices, node_labels, params
        As above.

    Notes
    -----
    A neighbour sum of a vector is one compiled pass over the rows
    (:func:`_row_sums`, numba, rows visited in :meth:`row_order`): the
    float64 sum of ``x`` over each row's stored neighbours, in row order, the
    same additions as the sparse product ``A @ x`` with unit weights (so the
    same bits).  Non-float64 inputs are
    converted into a reused length-``n`` buffer, so with ``out=`` a step
    allocates nothing.  Inputs of shape ``(n, k)`` use a cached
    ``scipy.sparse.csr_array`` (float64 ones, built on first use) that shares
    ``indices`` with the network; it costs 8 bytes per stored entry plus an
    int32 copy of ``indptr``, and :attr:`nbytes` counts it once built.  A
    sum over at least :data:`PARALLEL_MIN_NNZ`
    stored entries (about 4 million: 400,000 nodes at mean degree 10) runs as
    two row halves on two threads when two cores are available, with the
    same result to the bit.  For ``kind == "complete"`` everything is computed in
    closed form without materialising the edges.

    Examples
    --------
    >>> import numpy as np
    >>> net = erdos_renyi(1000, 10, np.random.default_rng(0))
    >>> round(net.mean_degree)
    10
    >>> net.indptr.dtype, net.indices.dtype, net.indices.size == 2 * net.n_edges
    (dtype('int64'), dtype('int32'), True)
    >>> star = from_edges(4, [0, 0, 0], [1, 2, 3])
    >>> star.degree.tolist()
    [3, 1, 1, 1]
    >>> star.neighbour_share(np.array([False, True, True, False])).tolist()
    [0.6666666666666666, 0.0, 0.0, 0.0]
    """

    def __init__(
        self,
        n: int,
        kind: str,
        indptr: np.ndarray | None,
        indices: np.ndarray | None,
        node_labels: list | None = None,
        params: dict | None = None,
    ) -> None:
        n = _check_n(n, minimum=0)
        self.n = n
        self.kind = str(kind)
        self.node_labels = node_labels
        self.params = dict(params) if params else {}
        if (indptr is None) != (indices is None):
            raise ValueError("indptr and indices must both be arrays or both be None")
        if indptr is None:
            if self.kind != "complete":
                raise ValueError("only kind='complete' may have indptr=None (implicit graph)")
            self.indptr = None
            self.indices = None
        else:
            indptr = np.ascontiguousarray(indptr, dtype=np.int64)
            want = np.int32 if n < 2**31 else np.int64
            indices = np.ascontiguousarray(indices, dtype=want)
            if indptr.shape != (n + 1,):
                raise ValueError(f"indptr must have length n + 1 = {n + 1}, got {indptr.shape}")
            if indices.ndim != 1 or indptr[0] != 0 or indptr[-1] != indices.size:
                raise ValueError("indptr must start at 0 and end at len(indices)")
            indptr.setflags(write=False)
            indices.setflags(write=False)
            self.indptr = indptr
            self.indices = indices
        self._degree: np.ndarray | None = None
        self._deg_div: np.ndarray | None = None
        self._indptr32: np.ndarray | None = None
        self._xbuf: np.ndarray | None = None  # float64 conversion buffer of neighbour_sum
        self._mats: dict[Any, scipy.sparse.csr_array] = {}

    # ----------------------------------------------------------------- basics
    @property
    def is_complete(self) -> bool:
        """True for the implicit (mean-field) complete graph."""
        return self.indptr is None

    @property
    def degree(self) -> np.ndarray:
        """Degree of every node (int64, length ``n``, read-only, cached).

        Examples
        --------
        >>> complete(4).degree.tolist()
        [3, 3, 3, 3]
        """
        if self._degree is None:
            if self.is_complete:
                d = np.full(self.n, max(self.n - 1, 0), dtype=np.int64)
            else:
                d = np.diff(self.indptr)
            d.setflags(write=False)
            self._degree = d
        return self._degree

    @property
    def n_edges(self) -> int:
        """Number of undirected edges.

        Examples
        --------
        >>> complete(1000).n_edges
        499500
        """
        if self.is_complete:
            return self.n * (self.n - 1) // 2
        return int(self.indices.size) // 2

    @property
    def mean_degree(self) -> float:
        """Mean degree ``2 * n_edges / n`` (0.0 for an empty graph).

        Examples
        --------
        >>> from_edges(3, [0], [1]).mean_degree
        0.6666666666666666
        """
        return 2.0 * self.n_edges / self.n if self.n else 0.0

    @property
    def max_degree(self) -> int:
        """Largest degree (0 for an empty graph)."""
        if self.n == 0:
            return 0
        if self.is_complete:
            return self.n - 1
        return int(self.degree.max())

    @property
    def nbytes(self) -> int:
        """Bytes held by the network's arrays, including any cached ones.

        The CSR arrays alone are ``indptr.nbytes + indices.nbytes``; cached
        degree arrays and the ``data`` / int32 ``indptr`` of cached scipy
        matrices (:meth:`to_scipy`) are added once built.

        Examples
        --------
        >>> net = from_edges(3, [0, 1], [1, 2])
        >>> net.nbytes   # 4 int64 offsets + 4 int32 indices
        48
        """
        total = 0
        for arr in (self.indptr, self.indices, self._degree, self._deg_div, self._indptr32, self._xbuf):
            if arr is not None:
                total += arr.nbytes
        for mat in self._mats.values():
            total += mat.data.nbytes
            if self.is_complete:
                total += mat.indices.nbytes + mat.indptr.nbytes
        return total

    def __repr__(self) -> str:
        return (
            f"Network(kind={self.kind!r}, n={self.n}, n_edges={self.n_edges}, "
            f"mean_degree={self.mean_degree:.3f})"
        )

    # ------------------------------------------------------- neighbour sums
    def _check_x(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim not in (1, 2) or x.shape[0] != self.n:
            raise ValueError(
                f"x must be an array of length n = {self.n} (or shape (n, k)), got shape {x.shape}"
            )
        if not (x.dtype == np.bool_ or np.issubdtype(x.dtype, np.number)):
            raise ValueError(f"x must be a bool, integer or float array, got dtype {x.dtype}")
        if np.iscomplexobj(x):
            raise ValueError("x must be real (bool, integer or float), got a complex array")
        return x

    @staticmethod
    def _check_out(out: np.ndarray | None, shape: tuple) -> None:
        if out is not None:
            if not isinstance(out, np.ndarray) or out.dtype != np.float64 or out.shape != shape:
                raise ValueError(f"out must be a float64 array of shape {shape}")

    def neighbour_sum(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``x`` over each node's neighbours, ``A @ x``, as float64.

        Parameters
        ----------
        x : array_like of bool, int or float, shape (n,) or (n, k)
            A value per node (or ``k`` values per node).
        out : numpy.ndarray of float64, optional
            Buffer of the result's shape to write into (avoids allocating a
            new result array every step).

        Returns
        -------
        numpy.ndarray of float64
            ``out`` if given, else a new array.  For the complete graph this is
            ``x.sum() - x`` (computed without materialising any edge).

        Examples
        --------
        >>> import numpy as np
        >>> path = from_edges(4, [0, 1, 2], [1, 2, 3])
        >>> path.neighbour_sum(np.array([1.0, 2.0, 3.0, 4.0])).tolist()
        [2.0, 4.0, 6.0, 3.0]
        >>> complete(3).neighbour_sum([True, False, True]).tolist()
        [1.0, 2.0, 1.0]
        """
        x = self._check_x(x)
        self._check_out(out, x.shape)
        if self.is_complete:
            total = x.sum(axis=0, dtype=np.float64)
            return np.subtract(total, x, out=out, dtype=np.float64)
        if x.ndim == 1:
            if x.dtype == np.float64 and x.flags.c_contiguous:
                xf = x
            else:  # bool / int / float32 input: convert into a reused buffer
                if self._xbuf is None:
                    self._xbuf = np.empty(self.n, dtype=np.float64)
                xf = self._xbuf
                np.copyto(xf, x, casting="unsafe")
            if out is None or np.may_share_memory(out, xf):  # out aliases x: write elsewhere first
                res = np.empty(self.n, dtype=np.float64)
            else:
                res = out
            halves = self._halves()
            order = self.row_order()
            if halves is None:
                _row_sums(self.indptr, self.indices, order, xf, res, 0, self.n)
            else:  # two row halves on two threads (the kernel releases the GIL; every row is summed the same)
                jobs = [_pool().submit(_row_sums, self.indptr, self.indices, order, xf, res, lo, hi)
                        for lo, hi in halves]
                for job in jobs:
                    job.result()
            if out is not None and res is not out:
                np.copyto(out, res)
                return out
            return res
        mat = self._matrix(np.float64)
        y = mat @ np.asarray(x, dtype=np.float64)
        if out is None:
            return np.asarray(y, dtype=np.float64)
        np.copyto(out, y)
        return out

    def row_order(self) -> np.ndarray:
        """The order in which the compiled neighbour sums visit the rows (cached; int64).

        Blocks of :data:`ROW_BLOCK` consecutive rows, each block by ascending
        degree, ties in row order. Each row's sum is the same whatever the
        order; rows of equal degree one after another make the length of the
        inner loop predictable to the processor (about a third faster at
        10,000 nodes of mean degree 10), while the writes stay within a block.

        Examples
        --------
        >>> star = from_edges(4, [0, 0, 0], [1, 2, 3])
        >>> star.row_order().tolist()
        [1, 2, 3, 0]
        """
        order = self.__dict__.get("_row_order_cache")
        if order is None:
            deg = np.diff(self.indptr)
            block_key = (np.arange(self.n, dtype=np.int64) // ROW_BLOCK) * (int(deg.max(initial=0)) + 1)
            order = np.argsort(block_key + deg, kind="stable")
            order.setflags(write=False)
            self.__dict__["_row_order_cache"] = order
        return order

    def _halves(self, mat: Any = None) -> list[tuple[int, int]] | None:
        """Halves ``[(0, mid), (mid, n)]`` of :meth:`row_order` with about equal stored entries for a two-thread
        sum; None if small or on one core (``mat`` is ignored: the rows are the network's)."""
        nnz = self.indices.size
        if nnz < PARALLEL_MIN_NNZ or _n_threads() < 2:
            return None
        mid = self.__dict__.get("_row_split_cache")
        if mid is None:
            mid = self.__dict__["_row_split_cache"] = int(np.searchsorted(self.indptr, nnz // 2))
        return [(0, mid), (mid, self.n)]

    def neighbour_share(self, x: Any, out: np.ndarray | None = None) -> np.ndarray:
        """Mean of ``x`` over each node's neighbours: ``neighbour_sum / degree``.

        Nodes without neighbours get 0.0.  With boolean ``x`` this is the share
        of a node's neighbours for which ``x`` is true.

        Parameters
        ----------
        x : array_like of bool, int or float, shape (n,) or (n, k)
        out : numpy.ndarray of float64, optional
            Buffer for the result (see :meth:`neighbour_sum`).

        Returns
        -------
        numpy.ndarray of float64

        Examples
        --------
        >>> import numpy as np
        >>> net = from_edges(5, [0, 0, 0], [1, 2, 3])   # a star; node 4 isolated
        >>> net.neighbour_share(np.array([0, 1, 1, 0, 1])).tolist()
        [0.6666666666666666, 0.0, 0.0, 0.0, 0.0]
        >>> complete(5).neighbour_share(np.array([1, 1, 0, 0, 0])).tolist()
        [0.25, 0.25, 0.5, 0.5, 0.5]
        """
        s = self.neighbour_sum(x, out=out)
        if self.is_complete:
            if self.n <= 1:
                s.fill(0.0)
            else:
                s /= self.n - 1
            return s
        if self._deg_div is None:
            d = self.degree.astype(np.float64)
            d[d == 0] = 1.0  # isolated nodes: sum is 0, 0 / 1 == 0
            d.setflags(write=False)
            self._deg_div = d
        if s.ndim == 1:
            np.divide(s, self._deg_div, out=s)
        else:
            np.divide(s, self._deg_div[:, None], out=s)
        return s

    # ------------------------------------------------------------ exporters
    def _materialisable(self, what: str) -> None:
        if self.is_complete and self.n * (self.n - 1) > _MAX_MATERIALISE:
            raise ValueError(
                f"{what}: the complete graph with n={self.n} is implicit; materialising "
                f"its {self.n * (self.n - 1)} entries exceeds the limit {_MAX_MATERIALISE}"
            )

    def _matrix(self, dtype: Any) -> scipy.sparse.csr_array:
        dtype = np.dtype(dtype)
        mat = self._mats.get(dtype)
        if mat is not None:
            return mat
        if self.is_complete:
            self._materialisable("to_scipy")
            u, v = self.edges()
            indptr, indices = _csr_from_keys(self.n, u.astype(np.int64) * self.n + v)
        else:
            indptr, indices = self.indptr, self.indices
        if indices.dtype == np.int32 and indices.size < 2**31:
            if self.is_complete:
                indptr = indptr.astype(np.int32)
            else:
                if self._indptr32 is None:
                    self._indptr32 = indptr.astype(np.int32)
                    self._indptr32.setflags(write=False)
                indptr = self._indptr32
        data = np.ones(indices.size, dtype=dtype)
        data.setflags(write=False)
        mat = scipy.sparse.csr_array((data, indices, indptr), shape=(self.n, self.n))
        mat.has_sorted_indices = True
        self._mats[dtype] = mat
        return mat

    def to_scipy(self, dtype: Any = np.float64) -> scipy.sparse.csr_array:
        """Adjacency matrix as a cached ``scipy.sparse.csr_array`` of ones.

        The matrix shares its ``indices`` with the network (read-only); do
        not modify it.  For the complete graph the matrix is materialised
        (only allowed for small ``n``).

        Parameters
        ----------
        dtype : numpy dtype, default float64
            dtype of the stored ones.  float64 (the default) is the matrix
            :meth:`neighbour_sum` uses; other dtypes are cached separately.

        Examples
        --------
        >>> A = from_edges(3, [0, 1], [1, 2]).to_scipy()
        >>> A.toarray().astype(int).tolist()
        [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
        """
        return self._matrix(dtype)

    def to_networkx(self):
        """Return the graph as a ``networkx.Graph`` (small graphs / tests only).

        Nodes are ``0 .. n-1``, or the original labels if the network came from
        :func:`from_networkx`.

        Examples
        --------
        >>> G = from_edges(3, [0, 1], [1, 2]).to_networkx()
        >>> sorted(G.edges())
        [(0, 1), (1, 2)]
        """
        import networkx as nx

        G = nx.Graph()
        labels = self.node_labels if self.node_labels is not None else range(self.n)
        G.add_nodes_from(labels)
        u, v = self.edges()
        if self.node_labels is None:
            G.add_edges_from(zip(u.tolist(), v.tolist()))
        else:
            lab = self.node_labels
            G.add_edges_from((lab[a], lab[b]) for a, b in zip(u.tolist(), v.tolist()))
        return G

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Each undirected edge once, as endpoint arrays ``(u, v)`` with ``u < v``.

        Sorted by ``u`` then ``v``.

        Examples
        --------
        >>> u, v = from_edges(4, [2, 1, 3], [0, 2, 2]).edges()
        >>> u.tolist(), v.tolist()
        ([0, 1, 2], [2, 2, 3])
        """
        if self.is_complete:
            self._materialisable("edges")
            u, v = np.triu_indices(self.n, 1)
            dt = np.int32 if self.n < 2**31 else np.int64
            return u.astype(dt), v.astype(dt)
        rows = np.repeat(np.arange(self.n, dtype=self.indices.dtype), self.degree)
        mask = rows < self.indices
        return rows[mask], self.indices[mask]

    def validate(self) -> None:
        """Check the CSR invariants; raise ``ValueError`` if one is violated.

        Checks: monotone ``indptr``, indices in range and strictly increasing
        within each row (sorted, no multi-edges), no self-loops, symmetry.

        Examples
        --------
        >>> from_edges(3, [0, 1], [1, 2]).validate()
        """
        if self.is_complete:
            return
        ip, ix, n = self.indptr, self.indices, self.n
        if np.any(np.diff(ip) < 0):
            raise ValueError("indptr is not monotone")
        if ix.size and (ix.min() < 0 or ix.max() >= n):
            raise ValueError("indices out of range")
        rows = np.repeat(np.arange(n, dtype=np.int64), self.degree)
        if np.any(rows == ix):
            raise ValueError("self-loop present")
        if ix.size > 1:
            same_row = rows[1:] == rows[:-1]
            if np.any(same_row & (ix[1:] <= ix[:-1])):
                raise ValueError("indices not strictly increasing within a row")
        fwd = rows * n + ix
        bwd = np.sort(ix.astype(np.int64) * n + rows)
        if not np.array_equal(fwd, bwd):
            raise ValueError("adjacency is not symmetric")


def _network_from_keys(
    n: int, keys: np.ndarray, kind: str, params: dict | None = None, node_labels=None
) -> Network:
    indptr, indices = _csr_from_keys(n, keys)
    return Network(n, kind, indptr, indices, node_labels=node_labels, params=params)


# --------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------
def from_edges(n: int, u: Any, v: Any, kind: str = "edges") -> Network:
    """Build a :class:`Network` from endpoint arrays.

    Edges are undirected: ``(u, v)`` and ``(v, u)`` are the same edge.
    Self-loops and repeated edges are dropped.  This (via one shared
    routine on sorted keys) is how every generator of the module builds its CSR.

    Parameters
    ----------
    n : int
        Number of nodes (>= 0); endpoints must lie in ``[0, n)``.
    u, v : array_like of int
        Endpoints, equal lengths.
    kind : str, default "edges"
        Stored as :attr:`Network.kind`.

    Returns
    -------
    Network

    Examples
    --------
    >>> net = from_edges(4, [0, 1, 1, 2, 3], [1, 0, 2, 2, 0])
    >>> net.n_edges, net.indptr.tolist(), net.indices.tolist()
    (3, [0, 2, 4, 5, 6], [1, 3, 0, 2, 1, 0])
    """
    n = _check_n(n, minimum=0)
    u = np.asarray(u)
    v = np.asarray(v)
    if u.ndim != 1 or v.ndim != 1 or u.shape != v.shape:
        raise ValueError(f"u and v must be 1-D arrays of equal length, got {u.shape} and {v.shape}")
    for name, a in (("u", u), ("v", v)):
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must hold integer node ids, got dtype {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ValueError(f"{name} must hold node ids in [0, n) = [0, {n}), got values out of range")
    ok = u != v
    keys = _sorted_unique(_edge_keys(u[ok], v[ok], n))
    return _network_from_keys(n, keys, kind)


def complete(n: int) -> Network:
    """Implicit complete graph (mean-field mixing): everyone is everyone's neighbour.

    No edges are stored; :meth:`Network.neighbour_sum` is ``x.sum() - x`` and
    :meth:`Network.neighbour_share` is ``(x.sum() - x) / (n - 1)`` (0 if
    ``n == 1``).

    Parameters
    ----------
    n : int
        Number of nodes, >= 1.

    Returns
    -------
    Network
        With ``kind == "complete"`` and ``indptr is indices is None``.

    Examples
    --------
    >>> net = complete(10**6)
    >>> net.n_edges, net.mean_degree, net.nbytes
    (499999500000, 999999.0, 0)
    """
    n = _check_n(n)
    return Network(n, "complete", None, None)


def erdos_renyi(n: int, mean_degree: float, rng: np.random.Generator) -> Network:
    """Uniform random graph G(n, m) with ``m = round(n * mean_degree / 2)`` edges.

    Exactly ``m`` distinct edges are drawn uniformly among all ``n(n-1)/2``
    node pairs: random pairs are drawn as arrays, self-loops dropped, pairs
    deduplicated by their int64 key ``u * n + v`` (``u < v``) and the sample is
    topped up until it holds ``m`` edges.  Above half of all pairs the free
    pairs are enumerated and sampled without replacement instead.

    Parameters
    ----------
    n : int
        Number of nodes, >= 1.
    mean_degree : float
        Target mean degree, in ``[0, n)``; values above ``n - 1`` are capped at
        ``n - 1`` (the complete graph).
    rng : numpy.random.Generator
        Source of all randomness.

    Returns
    -------
    Network

    Examples
    --------
    >>> import numpy as np
    >>> net = erdos_renyi(1000, 10, np.random.default_rng(0))
    >>> net.n_edges, round(net.mean_degree)
    (5000, 10)
    """
    n = _check_n(n)
    md = _check_mean_degree(mean_degree, n)
    rng = _check_rng(rng)
    m = _n_target_edges(n, md)
    keys = _add_uniform_edges(n, np.empty(0, dtype=np.int64), m, rng)
    return _network_from_keys(n, keys, "erdos_renyi", {"mean_degree": float(mean_degree)})


def watts_strogatz(
    n: int, mean_degree: float, beta: float, rng: np.random.Generator
) -> Network:
    """Watts-Strogatz small world: a rewired ring lattice.

    The ring lattice joins every node to its ``k / 2`` nearest nodes on each
    side, with ``k = mean_degree`` rounded down to an even integer (>= 2).
    Each of the ``n * k / 2`` lattice edges ``(i, i + d)`` is then, with
    probability ``beta``, rewired: ``i`` keeps the edge and its other end moves
    to a uniformly random node.  Rewiring is vectorised: all chosen edges
    propose a new end at once; proposals that would create a self-loop, repeat
    an existing edge or collide with another proposal are retried for a few
    rounds, and an edge whose rewiring keeps failing stays where it was.  The
    number of edges is therefore exactly ``n * k / 2``.

    Parameters
    ----------
    n : int
        Number of nodes, >= 3 (must exceed ``k``).
    mean_degree : float
        Lattice degree ``k`` before rounding down to even; >= 2 and ``k < n``.
    beta : float
        Rewiring probability in ``[0, 1]``; 0 gives the ring lattice itself.
    rng : numpy.random.Generator
        Source of all randomness.

    Returns
    -------
    Network

    Examples
    --------
    >>> import numpy as np
    >>> net = watts_strogatz(1000, 10, 0.1, np.random.default_rng(0))
    >>> net.n_edges, net.mean_degree
    (5000, 10.0)
    """
    n = _check_n(n)
    md = _check_real(mean_degree, "mean_degree", 2.0)
    beta = _check_real(beta, "beta", 0.0, 1.0)
    rng = _check_rng(rng)
    k = int(md) // 2 * 2
    if k >= n:
        raise ValueError(
            f"mean_degree rounds down to the even lattice degree k={k}, which must be < n={n}"
        )
    half = k // 2
    # slot j = (d - 1) * n + i holds lattice edge (i, (i + d) % n); i = j % n
    # keeps the edge when it is rewired
    src = np.tile(np.arange(n, dtype=np.int64), half)
    tgt = src + np.repeat(np.arange(1, half + 1, dtype=np.int64), n)
    tgt[tgt >= n] -= n
    keys = _edge_keys(src, tgt, n)
    del src, tgt
    pending = np.flatnonzero(rng.random(keys.size) < beta)
    for _ in range(10):
        if pending.size == 0:
            break
        current = np.sort(keys)
        u = pending % n
        w = rng.integers(0, n, size=pending.size)
        cand = _edge_keys(u, w, n)
        loop = u == w
        del u, w
        order = np.argsort(cand)
        cs = cand[order]
        bad_sorted = _in_sorted(current, cs)  # already an edge (incl. pending originals)
        del current
        if cs.size > 1:
            dup = cs[1:] == cs[:-1]  # proposals colliding with each other: retry all
            bad_sorted[1:] |= dup
            bad_sorted[:-1] |= dup
            del dup
        del cs
        bad = np.empty_like(bad_sorted)
        bad[order] = bad_sorted
        del order, bad_sorted
        bad |= loop
        ok = ~bad
        keys[pending[ok]] = cand[ok]
        pending = pending[bad]
    keys.sort()
    return _network_from_keys(
        n, keys, "watts_strogatz", {"mean_degree": float(mean_degree), "k": k, "beta": beta}
    )


def barabasi_albert(n: int, mean_degree: float, rng: np.random.Generator) -> Network:
    """Barabasi-Albert preferential attachment (scale-free degree distribution).

    A complete seed graph on ``m + 1`` nodes, then every further node attaches
    ``m = max(1, round(mean_degree / 2))`` edges to existing nodes chosen with
    probability proportional to their degree.  Vectorised with the edge-list
    formulation of Batagelj & Brandes (2005): an array ``M`` of ``2 * E`` slots
    where slot ``2j`` holds the new node of edge ``j`` and slot ``2j + 1`` a copy
    of ``M[r_j]`` for ``r_j`` uniform over the earlier slots ``[0, 2j)`` (a node
    occupies as many slots as its degree, so this is degree-proportional).  All
    ``r_j`` are drawn at once and resolved by vectorised pointer chasing:
    targets that point at an unresolved odd slot follow that slot's pointer
    until they reach a slot whose value is known.

    As in the original formulation, a node may pick the same target twice or
    (through its own earlier slots) itself; such self-loops and duplicate edges
    are dropped, so the realised mean degree is slightly below ``2 m`` (by well
    under 5 % for ``n >= 1000``; the seed also contributes ``-m(m+1)/n``).

    Parameters
    ----------
    n : int
        Number of nodes; must be > ``m``.
    mean_degree : float
        Target mean degree (>= 0); ``m = max(1, round(mean_degree / 2))``.
    rng : numpy.random.Generator
        Source of all randomness.

    Returns
    -------
    Network

    References
    ----------
    V. Batagelj and U. Brandes, "Efficient generation of large random
    networks", Physical Review E 71, 036113 (2005).

    Examples
    --------
    >>> import numpy as np
    >>> net = barabasi_albert(10000, 10, np.random.default_rng(0))
    >>> abs(net.mean_degree - 10) < 0.5, net.max_degree > 10 * net.mean_degree
    (True, True)
    """
    n = _check_n(n)
    md = _check_real(mean_degree, "mean_degree", 0.0)
    rng = _check_rng(rng)
    m = max(1, int(round(md / 2.0)))
    if n <= m:
        raise ValueError(
            f"n must exceed m = max(1, round(mean_degree / 2)) = {m} edges per new node, got n={n}"
        )
    seed_u, seed_v = np.triu_indices(m + 1, 1)
    e0 = seed_u.size  # seed edges occupy slots [0, 2 * e0)
    n_new = (n - m - 1) * m
    if n_new == 0:
        keys = _edge_keys(seed_u, seed_v, n)
        return _network_from_keys(n, np.sort(keys), "barabasi_albert", {"mean_degree": md, "m": m})
    j = np.arange(e0, e0 + n_new, dtype=np.int64)  # global edge ids of new edges
    src = (m + 1) + (j - e0) // m
    ptr = rng.integers(0, 2 * j)  # r_j uniform in [0, 2j)
    del j
    r = ptr.copy()  # the original pointers, indexed by edge id - e0

    # follow pointers that land on odd slots of new (not seed) edges
    def _unresolved(p):
        return ((p & 1) == 1) & ((p >> 1) >= e0)

    idx = np.flatnonzero(_unresolved(ptr))
    while idx.size:
        p = r[(ptr[idx] >> 1) - e0]
        ptr[idx] = p
        idx = idx[_unresolved(p)]
    del r
    edge = ptr >> 1
    odd = (ptr & 1) == 1
    seed_edge = edge < e0
    tgt = np.empty(n_new, dtype=np.int64)
    # even slot of a new edge: its new node
    sel = ~seed_edge
    tgt[sel] = (m + 1) + (edge[sel] - e0) // m
    # slots of seed edges: the seed endpoints
    sel = seed_edge & ~odd
    tgt[sel] = seed_u[edge[sel]]
    sel = seed_edge & odd
    tgt[sel] = seed_v[edge[sel]]
    del ptr, edge, odd, seed_edge, sel
    ok = src != tgt
    keys = np.concatenate([_edge_keys(seed_u, seed_v, n), _edge_keys(src[ok], tgt[ok], n)])
    del src, tgt, ok
    keys = _sorted_unique(keys)
    return _network_from_keys(
        n, keys, "barabasi_albert", {"mean_degree": float(mean_degree), "m": m}
    )


@jit
def _is_identity(order):
    """Whether ``order[i] == i`` for every ``i``."""
    for i in range(order.size):
        if order[i] != i:
            return False
    return True


@jit
def _homophily_highs(ps, u, p_within, pos_block, size, n, has_singletons, one_block, within, high):
    """Per proposal: within its source's block or not, and the number of possible targets.

    Within (``u < p_within``; never for a block of one, always when there is
    only one block): the ``ns - 1`` other members of the source's block of
    size ``ns``; between: the ``n - ns`` nodes outside it.
    """
    for i in range(ps.size):
        ns = size[pos_block[ps[i]]]
        w = u[i] < p_within
        if has_singletons and ns < 2:
            w = False
        if one_block:
            w = True
        within[i] = w
        high[i] = ns - 1 if w else n - ns


@jit
def _homophily_keys(ps, t, within, pos_block, size, off, order, identity, n):
    """Edge keys of the proposals: target position from the uniform draw ``t``, skipping the source.

    Within: ``no + t``, plus 1 from the source's own position on (``no`` the
    block's first position); between: ``t``, plus ``ns`` from the block's
    first position on.  Positions are mapped to nodes by ``order`` (skipped
    when it is the ``identity``); the key is ``min * n + max``.
    """
    out = np.empty(ps.size, dtype=np.int64)
    for i in range(ps.size):
        p = ps[i]
        b = pos_block[p]
        no = off[b]
        tt = t[i]
        if within[i]:
            tt += no
            if tt >= p:
                tt += 1
        elif tt >= no:
            tt += size[b]
        if identity:
            a = np.int64(p)
            c = np.int64(tt)
        else:
            a = np.int64(order[p])
            c = np.int64(order[tt])
        if a < c:
            out[i] = a * n + c
        else:
            out[i] = c * n + a
    return out


def homophily(
    groups: Any, mean_degree: float, mixing: float, rng: np.random.Generator
) -> Network:
    """Homophilous random graph: a stochastic block model over node groups.

    ``groups[i]`` is node ``i``'s block (in the model: region x urban/rural x
    age group).  ``m = round(n * mean_degree / 2)`` edges are built as follows:
    each edge gets a source node drawn uniformly; with probability
    ``1 - mixing`` its target is uniform among the *other* members of the
    source's block, otherwise uniform among all nodes *outside* the block.  So
    ``mixing`` is the expected share of edges that join two different blocks
    and ``1 - mixing`` the expected within-block share.  Within a block, and
    between two blocks, edges are placed uniformly at random (degrees are
    roughly Poisson).  Self-loops are impossible by construction; duplicate
    pairs are dropped and the graph is topped up with fresh draws until it
    holds exactly ``m`` edges.

    Special cases: a node alone in its block (size 1) cannot have a
    within-block edge, so its edges are always between blocks; if all nodes
    are in one block, every edge is within it.  The within share is exact in
    expectation up to the (tiny) effect of rejected duplicates, which are more
    frequent inside small blocks.  A block too small to hold its share of
    within edges (its pairs saturate, e.g. mean degree close to the block
    size) makes repeated draws fail; once the top-up stalls, the remaining
    edges are placed as uniformly random new node pairs (mostly between
    blocks), so the realised within share then falls below ``1 - mixing``.

    Parameters
    ----------
    groups : array_like of int, shape (n,)
        Block label of every node (any integers; need not be contiguous).
    mean_degree : float
        Target mean degree in ``[0, n)``; values above ``n - 1`` are capped.
    mixing : float
        Expected share of between-block edges, in ``[0, 1]``.
    rng : numpy.random.Generator
        Source of all randomness.

    Returns
    -------
    Network

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> groups = np.repeat([0, 1, 2, 3], [4000, 3000, 2000, 1000])
    >>> net = homophily(groups, 10, 0.2, rng)
    >>> net.n_edges
    50000
    >>> u, v = net.edges()
    >>> round(float(np.mean(groups[u] == groups[v])), 2)
    0.8
    """
    g = np.asarray(groups)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"groups must be a non-empty 1-D integer array, got shape {g.shape}")
    if not (np.issubdtype(g.dtype, np.integer) or g.dtype == np.bool_):
        raise ValueError(f"groups must hold integer block labels, got dtype {g.dtype}")
    n = _check_n(g.size, name="len(groups)")
    md = _check_mean_degree(mean_degree, n)
    mixing = _check_real(mixing, "mixing", 0.0, 1.0)
    rng = _check_rng(rng)
    m = _n_target_edges(n, md)
    params = {"mean_degree": float(mean_degree), "mixing": mixing}

    # nodes sorted by block; block b occupies order[off[b]:off[b] + size[b]]
    g64 = g.astype(np.int64)
    lo = int(g64.min())
    span = int(g64.max()) - lo
    if span < 2**16:
        order = np.argsort((g64 - lo).astype(np.uint16), kind="stable")  # radix sort
    else:
        order = np.argsort(g64, kind="stable")
    sg = g64[order]
    starts = np.flatnonzero(np.concatenate(([True], sg[1:] != sg[:-1])))
    del sg
    size = np.diff(np.append(starts, n)).astype(np.int64)
    off = starts.astype(np.int64)
    order = order.astype(np.int32 if n < 2**31 else np.int64)
    # block code of every *position* of `order` (small table lookups below)
    pos_block = np.repeat(np.arange(size.size, dtype=np.uint8 if size.size <= 256 else np.int32), size)
    # nodes already numbered by block (as the model's citizens are): positions are nodes
    identity = _is_identity(order)
    has_singletons = bool(np.any(size == 1))
    one_block = size.size == 1
    p_within = 1.0 - mixing

    def propose(k: int) -> np.ndarray:
        # work in positions of `order`: a uniform position is a uniform node
        ps = rng.integers(0, n, size=k)
        within = np.empty(k, dtype=np.bool_)
        high = np.empty(k, dtype=np.int64)
        _homophily_highs(ps, rng.random(k), p_within, pos_block, size, n, has_singletons, one_block,
                         within, high)
        t = rng.integers(0, high)
        return _homophily_keys(ps, t, within, pos_block, size, off, order, identity, n)

    keys = np.empty(0, dtype=np.int64)
    need = m
    acc = 1.0
    rounds = 0
    while need > 0:
        rounds += 1
        if rounds > 30 or acc < 0.02:
            # saturated blocks: place the rest as uniform random new pairs
            keys = _add_uniform_edges(n, keys, need, rng)
            break
        k = int(need / acc * 1.002) + 16
        before = keys.size
        keys = _merge_new_keys(keys, _chunked(k, propose), need, rng, n)
        got = keys.size - before
        need -= got
        acc = max(got / k, 1e-3) if need > 0 else acc
    return _network_from_keys(n, keys, "homophily", params)


def from_networkx(G) -> Network:
    """Convert any networkx graph into a :class:`Network`.

    Nodes are numbered ``0 .. n-1`` in ``list(G.nodes)`` order, and that list
    is stored as :attr:`Network.node_labels`.  Directed graphs are symmetrised
    (an arc either way becomes one undirected edge); self-loops and parallel
    edges of multigraphs are dropped.

    Parameters
    ----------
    G : networkx.Graph, DiGraph, MultiGraph or MultiDiGraph

    Returns
    -------
    Network
        With ``kind == "networkx"``.

    Examples
    --------
    >>> import networkx as nx
    >>> net = from_networkx(nx.karate_club_graph())
    >>> net.n, net.n_edges
    (34, 78)
    >>> d = from_networkx(nx.DiGraph([("a", "b"), ("b", "a"), ("b", "c"), ("c", "c")]))
    >>> d.node_labels, d.n_edges
    (['a', 'b', 'c'], 2)
    """
    try:
        nodes = list(G.nodes)
        edge_list = list(G.edges())
    except AttributeError:
        raise ValueError(f"G must be a networkx graph, got {type(G).__name__}") from None
    index = {node: i for i, node in enumerate(nodes)}
    n = len(nodes)
    u = np.fromiter((index[a] for a, _ in edge_list), dtype=np.int64, count=len(edge_list))
    v = np.fromiter((index[b] for _, b in edge_list), dtype=np.int64, count=len(edge_list))
    net = from_edges(n, u, v, kind="networkx")
    net.node_labels = nodes
    return net


def build_network(scenario, citizens, rng: np.random.Generator) -> Network:
    """Build the social network of a scenario's population.

    Reads ``network.kind``, ``network.mean_degree``, ``network.homophily.mixing``
    and ``network.watts_strogatz.beta``.  For ``"homophily"`` the blocks are
    ``citizens.block_labels(regions.n)`` (region x urban/rural x age group).

    Every valid scenario yields a network, whatever the population size: the
    mean degree is capped at ``n - 1``; Watts-Strogatz uses the largest even
    ``k <= min(mean_degree, n - 1)`` and gives an edgeless ring when that is
    0 (``mean_degree < 2`` or ``n < 3``); Barabasi-Albert caps its ``m`` at
    ``n - 1`` and gives a single isolated node when ``n == 1``.

    Parameters
    ----------
    scenario : Scenario or mapping
        Anything indexable by the dotted keys above (and ``regions.n``).
    citizens : Population
        Needs ``n`` and, for ``"homophily"``, ``block_labels(n_regions)``.
    rng : numpy.random.Generator
        The model's ``network`` stream.

    Returns
    -------
    Network

    Raises
    ------
    ScenarioError
        For an unknown ``network.kind`` (normally caught by the scenario
        schema already).

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> pop = SimpleNamespace(n=1000, block_labels=lambda n_regions: np.arange(1000) % 6)
    >>> sc = {"network.kind": "homophily", "network.mean_degree": 10.0,
    ...       "network.homophily.mixing": 0.3, "network.watts_strogatz.beta": 0.1, "regions.n": 3}
    >>> build_network(sc, pop, np.random.default_rng(0))
    Network(kind='homophily', n=1000, n_edges=5000, mean_degree=10.000)
    """
    kind = scenario["network.kind"]
    md = float(scenario["network.mean_degree"])
    n = int(citizens.n)
    if n < 1:
        raise ScenarioError(f"the population is empty (n={n})", key="citizens.n")
    params = {"mean_degree": md}
    if kind == "complete":
        return complete(n)
    if kind == "erdos_renyi":
        return erdos_renyi(n, min(md, n - 1), rng)
    if kind == "homophily":
        groups = citizens.block_labels(int(scenario["regions.n"]))
        return homophily(groups, min(md, n - 1), float(scenario["network.homophily.mixing"]), rng)
    if kind == "watts_strogatz":
        beta = float(scenario["network.watts_strogatz.beta"])
        k = int(min(md, n - 1)) // 2 * 2
        if k < 2:
            return _network_from_keys(n, np.empty(0, np.int64), "watts_strogatz", {**params, "k": 0, "beta": beta})
        return watts_strogatz(n, k, beta, rng)
    if kind == "barabasi_albert":
        if n == 1:
            return _network_from_keys(1, np.empty(0, np.int64), "barabasi_albert", {**params, "m": 0})
        return barabasi_albert(n, min(md, 2 * (n - 1)), rng)
    raise ScenarioError(f"unknown network kind {kind!r}; allowed: {', '.join(KINDS)}", key="network.kind")
