"""Global sensitivity analysis through SALib: Sobol, Morris and eFAST.

Parameters are scenario keys with bounds (``--param adoption.p=0.01:0.05``);
outputs are scalar output specs (``final:adoption_rate``,
``mean:exclusion_rate:60:120``, ``first_step:adoption_rate>=0.5``; see
:mod:`govsim.experiments.outputs`). The same machinery accepts a plain Python
function of the parameters (:func:`sensitivity` with a callable), which is how
it is checked against SALib's analytic test functions.

Sampling
    ``sobol``: Saltelli's scheme on a scrambled Sobol' sequence
    (``SALib.sample.sobol``), N a power of 2, N·(D+2) points, or N·(2D+2)
    with second-order indices; ``morris``: N trajectories of D+1 points on a
    ``levels``-level grid; ``fast``: eFAST, N·D points (N > 4M²). D counts the
    dummy parameter. The sample is seeded from the experiment seed.
    Integer parameters are sampled on [low − ½, high + ½] and rounded, so each
    integer is equally likely; boolean and text parameters cannot be analysed
    (sweep them instead).

Replicates
    Each sample point can be run with R replicate seeds (run ``p·R + r``); the
    analysis uses the mean over the replicates of each point.

The noise floor
    A stochastic model produces confident-looking indices out of pure noise:
    every total-order index is inflated by the share of the output variance
    that is replicate noise, and first-order and Morris indices scatter around
    it. So the design includes a *dummy* parameter that the model never sees
    (Khorashadi Zadeh et al. 2017, Environ. Model. Softw. 91:210): its
    indices are what noise and estimation error alone produce. The floor of
    an index is the dummy's value plus its confidence half-width, and a
    parameter's index is *above the floor* when its lower confidence bound
    (value − conf) exceeds the floor. With R ≥ 2 the replicate-noise share of
    the analysed output's variance, ``(mean within-point variance / R) /
    variance of the point means``, is reported too; it is the expected total
    index of the dummy.

Confidence intervals are SALib's bootstrap intervals (``num_resamples``
resamples, ``conf_level``), reported as half-widths ``conf``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from .engine import ExperimentResult, run_experiment
from ..model import output_columns
from .outputs import parse_outputs
from .spec import ExperimentSpec, resolve_model, resolve_scenario, validate_points

__all__ = ["SAParam", "parse_param", "sa_spec", "sensitivity", "analyse", "sample", "METHODS", "DUMMY"]

METHODS = ("sobol", "morris", "fast")
DUMMY = "dummy"
_SAMPLE_KEY = 2**32 - 1  # spawn key of the sampling seed (never a run index)
_ANALYSIS_KEY = 2**32 - 2  # spawn key of the bootstrap seed


@dataclass(frozen=True)
class SAParam:
    """A parameter of a sensitivity analysis: key, bounds and type (int or float).

    Examples
    --------
    >>> p = SAParam("citizens.n", 200, 400, int)
    >>> p.sample_bounds(), p.value(399.7), p.value(400.4)
    ([199.5, 400.5], 400, 400)
    """

    key: str
    low: float
    high: float
    type: type = float

    def sample_bounds(self) -> list[float]:
        """Bounds given to SALib (integers: widened by ½ on each side)."""
        if self.type is int:
            return [self.low - 0.5, self.high + 0.5]
        return [float(self.low), float(self.high)]

    def value(self, x: float):
        """The parameter value for sample coordinate ``x``."""
        if self.type is int:
            return int(min(max(np.rint(x), self.low), self.high))
        return float(x)


def _num(text: str, what: str, key: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ScenarioError(f"{what} bound {text!r} is not a number", key=key) from None
    if not math.isfinite(v):
        raise ScenarioError(f"{what} bound must be finite, got {text!r}", key=key)
    return v


def parse_param(text: str | tuple, model: bool = True) -> SAParam:
    """Parse ``key=low:high`` (or ``(key, low, high)``) and check it.

    For a model (``model=True``) the key must be a numeric scenario
    parameter and both bounds within its allowed range; for a plain function
    any identifier is accepted.

    Examples
    --------
    >>> parse_param("adoption.p=0.01:0.05")
    SAParam(key='adoption.p', low=0.01, high=0.05, type=<class 'float'>)
    >>> parse_param("adoption.p=0.05:0.01")
    Traceback (most recent call last):
    ...
    govsim.errors.ScenarioError: adoption.p: low bound 0.05 must be < high bound 0.01
    """
    if isinstance(text, tuple):
        key, low, high = text
        low, high = _num(str(low), "low", key), _num(str(high), "high", key)
    else:
        if "=" not in text or ":" not in text.partition("=")[2]:
            raise ScenarioError(f"--param expects key=low:high, got {text!r}", key="param")
        key, _, rng = text.partition("=")
        key = key.strip()
        lo_s, _, hi_s = rng.partition(":")
        low, high = _num(lo_s.strip(), "low", key), _num(hi_s.strip(), "high", key)
    if not low < high:
        raise ScenarioError(f"low bound {_g(low)} must be < high bound {_g(high)}", key=key)
    if not model:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", key):
            raise ScenarioError("not a valid parameter name", key=key)
        if key == DUMMY:
            raise ScenarioError(f"{DUMMY!r} is reserved for the noise-floor parameter", key=key)
        return SAParam(key, low, high, float)
    from ..config import get_param

    p = get_param(key)
    if p.length is not None:
        raise ScenarioError(f"list parameters cannot be analysed ({p.allowed()})", key=key)
    if p.type not in (int, float):
        raise ScenarioError(f"{p.type.__name__} parameters cannot be analysed; sweep them with govsim sweep --grid",
                            key=key)
    if p.type is int:
        if not (float(low).is_integer() and float(high).is_integer()):
            raise ScenarioError(f"integer parameter: bounds must be integers, got {_g(low)}:{_g(high)}", key=key)
        low, high = int(low), int(high)
    for b in (low, high):
        try:
            p.validate(b)
        except ScenarioError as exc:
            raise ScenarioError(f"bound {_g(b)} is outside the allowed range: {exc.message}", key=key) from None
    return SAParam(key, low, high, p.type)


def _g(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _derived_seed(seed: int, key: int) -> int:
    return int(np.random.SeedSequence(int(seed), spawn_key=(key,)).generate_state(1, dtype=np.uint32)[0])


def _problem(params: Sequence[SAParam], dummy: bool) -> dict:
    names = [p.key for p in params] + ([DUMMY] if dummy else [])
    bounds = [p.sample_bounds() for p in params] + ([[0.0, 1.0]] if dummy else [])
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def check_design(method: str, n: int, n_vars: int, second_order: bool, levels: int, M: int) -> int:
    """Validate the design size; returns the number of sample points.

    Examples
    --------
    >>> check_design("sobol", 512, 8, second_order=True, levels=4, M=4)   # N·(2D+2)
    9216
    >>> check_design("morris", 20, 7, second_order=False, levels=4, M=4)  # N·(D+1)
    160
    """
    if method not in METHODS:
        raise ScenarioError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}", key="method")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ScenarioError(f"--n must be a positive integer, got {n!r}", key="n")
    if method == "sobol":
        if n < 2 or n & (n - 1):
            raise ScenarioError(f"sobol needs N a power of 2 (e.g. 256, 512, 1024), got {n}", key="n")
        return n * (2 * n_vars + 2 if second_order else n_vars + 2)
    if method == "morris":
        if n < 2:
            raise ScenarioError(f"morris needs N >= 2 trajectories, got {n}", key="n")
        if levels < 2 or levels % 2:
            raise ScenarioError(f"morris needs an even number of levels >= 2, got {levels}", key="levels")
        return n * (n_vars + 1)
    if M < 1:
        raise ScenarioError(f"fast needs M >= 1, got {M}", key="M")
    if n <= 4 * M * M:
        raise ScenarioError(f"fast needs N > 4·M² = {4 * M * M}, got {n}", key="n")
    return n * n_vars


def sample(method: str, problem: dict, n: int, seed: int, second_order: bool = True, levels: int = 4,
           M: int = 4) -> np.ndarray:
    """The SALib sample matrix (one row per point), seeded by ``seed``."""
    import warnings

    if method == "sobol":
        from SALib.sample import sobol as s

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return s.sample(problem, n, calc_second_order=second_order, scramble=True, seed=seed)
    if method == "morris":
        from SALib.sample import morris as s

        return s.sample(problem, n, num_levels=levels, seed=seed)
    from SALib.sample import fast_sampler as s

    return s.sample(problem, n, M=M, seed=seed)


def sa_spec(model="baseline", params: Sequence[str | tuple] = (), outputs: Sequence[str] = (), *,
            method: str = "sobol", n: int = 256, reps: int = 1, steps: int | None = None, seed: int = 0,
            dummy: bool = True, second_order: bool = True, levels: int = 4, M: int = 4,
            num_resamples: int = 1000, conf_level: float = 0.95, overrides: Mapping[str, Any] | None = None,
            arm: str | None = None, keep_series: bool = False, model_factory=None) -> ExperimentSpec:
    """Validated spec of a sensitivity analysis (see :func:`sensitivity`).

    The sample matrix is kept as ``spec.extra_X`` (not serialised), the
    parsed parameters as ``spec.sa_params`` and the SALib problem as
    ``spec.sa["problem"]``. Everything is validated (keys, bounds, outputs,
    design size, every sample point) before anything runs.

    Examples
    --------
    >>> spec = sa_spec("baseline", ["adoption.p=0.01:0.05", "citizens.n=200:400"], ["final:adoption_rate"],
    ...                n=8, reps=2, second_order=False)
    >>> spec.sa["problem"]["names"], spec.n_points, spec.n_runs
    (['adoption.p', 'citizens.n', 'dummy'], 40, 80)
    >>> spec.task(3).point, spec.task(3).rep
    (1, 1)
    """
    function = model if callable(model) and not _is_scenario_like(model) else None
    method = str(method).lower()
    if not params:
        raise ScenarioError("give at least one --param key=low:high", key="param")
    sa_params = [parse_param(p, model=function is None) for p in params]
    keys = [p.key for p in sa_params]
    if len(set(keys)) != len(keys):
        raise ScenarioError("a parameter is given twice", key=next(k for k in keys if keys.count(k) > 1))
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise ScenarioError(f"--reps must be >= 1, got {reps}")
    if not 0 < conf_level < 1:
        raise ScenarioError(f"conf_level must be in (0, 1), got {conf_level}")
    if int(num_resamples) < 10:
        raise ScenarioError(f"--resamples must be >= 10, got {num_resamples}")
    n_vars = len(sa_params) + (1 if dummy else 0)
    if n_vars < 2:
        raise ScenarioError("a sensitivity analysis needs at least 2 parameters (including the dummy)")
    n_points = check_design(method, n, n_vars, second_order, levels, M)
    if function is not None:
        outs: list = []
        fouts = [str(o) for o in outputs] or ["y"]
        if len(set(fouts)) != len(fouts):
            raise ScenarioError("an output is given twice", key="output")
        sc = None
        steps = 1 if steps is None else steps
    else:
        if not outputs:
            raise ScenarioError("give at least one --output (e.g. final:adoption_rate)", key="output")
        sc = resolve_scenario(model, overrides, arm)
        steps = sc.steps if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ScenarioError(f"--steps must be >= 1, got {steps}")
        outs = parse_outputs(outputs, columns=output_columns(sc.values), steps=steps)
        fouts = []
        resolve_model(model_factory)
    problem = _problem(sa_params, dummy)
    sample_seed = _derived_seed(seed, _SAMPLE_KEY)
    X = sample(method, problem, n, sample_seed, second_order, levels, M)
    if X.shape[0] != n_points:  # pragma: no cover - SALib changed its design size
        raise RuntimeError(f"SALib returned {X.shape[0]} points, expected {n_points}")
    points = [{p.key: p.value(x) for p, x in zip(sa_params, row)} for row in X]
    if sc is not None:
        points = validate_points(sc, points, label="sample point")
    import hashlib

    sa = {
        "method": method,
        "params": [{"key": p.key, "low": p.low, "high": p.high, "type": p.type.__name__} for p in sa_params],
        "n": int(n),
        "dummy": bool(dummy),
        "second_order": bool(second_order) if method == "sobol" else None,
        "levels": int(levels) if method == "morris" else None,
        "M": int(M) if method == "fast" else None,
        "sample_seed": sample_seed,
        "n_points": n_points,
        "sample_sha256": hashlib.sha256(np.ascontiguousarray(X, dtype=np.float64).tobytes()).hexdigest(),
        "problem": problem,
    }
    spec = ExperimentSpec("sa", sc, steps, seed, reps, points, keys, outputs=outs, keep_series=bool(keep_series),
                          model=model_factory, function=function, function_outputs=fouts, sa=sa,
                          analysis={"num_resamples": int(num_resamples), "conf_level": float(conf_level),
                                    "bootstrap_seed": _derived_seed(seed, _ANALYSIS_KEY)},
                          arm=arm)
    spec.extra_X = X
    spec.sa_params = sa_params
    return spec


def _is_scenario_like(obj) -> bool:
    from ..config import Scenario

    return isinstance(obj, (Scenario, str, Path))


def design_table(spec: ExperimentSpec) -> pd.DataFrame:
    """One row per sample point: ``point``, the parameter values run, the dummy and the raw sample.

    Examples
    --------
    >>> spec = sa_spec("baseline", ["citizens.n=200:400"], ["adoption_rate"], n=4, second_order=False)
    >>> list(design_table(spec).columns)
    ['point', 'citizens.n', 'citizens.n:sample', 'dummy']
    """
    X = spec.extra_X
    d: dict = {"point": np.arange(spec.n_points, dtype=np.int64)}
    for j, p in enumerate(spec.sa_params):
        d[p.key] = [pt[p.key] for pt in spec.points]
        if p.type is int:
            d[f"{p.key}:sample"] = X[:, j]
    if spec.sa["dummy"]:
        d[DUMMY] = X[:, len(spec.sa_params)]
    return pd.DataFrame(d)


# -- analysis ------------------------------------------------------------------------------
def analyse(method: str, problem: dict, X: np.ndarray, Y: np.ndarray, *, output: str = "y",
            second_order: bool = True, levels: int = 4, M: int = 4, num_resamples: int = 1000,
            conf_level: float = 0.95, seed: int | None = None, dummy: str | None = DUMMY,
            Y_reps: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """Sensitivity indices of one output, with bootstrap intervals and the noise floor.

    Parameters
    ----------
    method : {"sobol", "morris", "fast"}
    problem : dict
        SALib problem (``names``, ``bounds``, ``num_vars``).
    X : ndarray
        The sample matrix (one row per point).
    Y : ndarray
        Output per point (the mean over replicates).
    dummy : str or None
        Name of the dummy parameter in ``problem`` (None: no floor).
    Y_reps : ndarray, optional
        Outputs per point and replicate (points × R), for the noise share.

    Returns
    -------
    indices : DataFrame
        ``output, method, parameter, index, value, conf, low, high, floor,
        above_floor, is_dummy``; ``index`` is S1/ST (sobol, fast) or
        mu/mu_star/sigma (morris).
    s2 : DataFrame or None
        Second-order Sobol indices (``parameter``, ``parameter_2``, ...).
    noise : dict
        ``reps``, ``noise_share`` (see the module docstring), ``dummy_ST``...

    Examples
    --------
    >>> from SALib.test_functions import Ishigami
    >>> prob = _problem([SAParam(f"x{i}", -np.pi, np.pi) for i in (1, 2, 3)], dummy=True)
    >>> X = sample("sobol", prob, 256, seed=1, second_order=False)
    >>> ind, _, _ = analyse("sobol", prob, X, Ishigami.evaluate(X[:, :3]), second_order=False, seed=1)
    >>> bool(ind.query("parameter == 'x2' and index == 'S1'")["above_floor"].iloc[0])
    True
    """
    import warnings

    Y = np.asarray(Y, dtype=float)
    names = list(problem["names"])
    rows: list[dict] = []
    s2 = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "sobol":
            from SALib.analyze import sobol as a

            Si = a.analyze(problem, Y, calc_second_order=second_order, num_resamples=num_resamples,
                           conf_level=conf_level, seed=seed)
            kinds = (("S1", "S1", "S1_conf"), ("ST", "ST", "ST_conf"))
        elif method == "fast":
            from SALib.analyze import fast as a

            Si = a.analyze(problem, Y, M=M, num_resamples=num_resamples, conf_level=conf_level, seed=seed)
            kinds = (("S1", "S1", "S1_conf"), ("ST", "ST", "ST_conf"))
        elif method == "morris":
            from SALib.analyze import morris as a

            Si = a.analyze(problem, X, Y, num_resamples=num_resamples, conf_level=conf_level, num_levels=levels,
                           seed=seed)
            kinds = (("mu", "mu", None), ("mu_star", "mu_star", "mu_star_conf"), ("sigma", "sigma", None))
        else:
            raise ScenarioError(f"unknown method {method!r}", key="method")
    di = names.index(dummy) if dummy in names else None
    for label, key, conf_key in kinds:
        vals = np.asarray(Si[key], dtype=float)
        confs = np.asarray(Si[conf_key], dtype=float) if conf_key else np.full(len(names), np.nan)
        if di is not None and label != "mu":
            c = 0.0 if np.isnan(confs[di]) else confs[di]
            floor = float(abs(vals[di]) + c) if label != "sigma" else float(vals[di])
        else:
            floor = np.nan
        for j, name in enumerate(names):
            conf = float(confs[j])
            lower = vals[j] - (0.0 if np.isnan(conf) else conf)
            if j == di:
                above = False
            elif np.isnan(floor):
                above = None
            else:
                above = bool(lower > floor)
            rows.append({"output": output, "method": method, "parameter": name, "index": label,
                         "value": float(vals[j]), "conf": conf, "low": float(vals[j] - conf),
                         "high": float(vals[j] + conf), "floor": floor, "above_floor": above,
                         "is_dummy": j == di})
    indices = pd.DataFrame(rows)
    indices["above_floor"] = indices["above_floor"].astype("boolean")
    if method == "sobol" and second_order:
        S2, C2 = np.asarray(Si["S2"], dtype=float), np.asarray(Si["S2_conf"], dtype=float)
        floor2 = np.nan
        if di is not None:
            cand = [abs(S2[min(di, j), max(di, j)]) + C2[min(di, j), max(di, j)] for j in range(len(names)) if j != di]
            cand = [c for c in cand if np.isfinite(c)]
            floor2 = float(max(cand)) if cand else np.nan
        r2 = []
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                dummy_pair = di is not None and di in (i, j)
                above = None if np.isnan(floor2) else (False if dummy_pair else bool(S2[i, j] - C2[i, j] > floor2))
                r2.append({"output": output, "parameter": names[i], "parameter_2": names[j], "value": S2[i, j],
                           "conf": C2[i, j], "floor": floor2, "above_floor": above, "is_dummy": dummy_pair})
        s2 = pd.DataFrame(r2)
        s2["above_floor"] = s2["above_floor"].astype("boolean")
    noise = {"output": output, "reps": 1, "noise_share": np.nan, "within_variance": np.nan,
             "between_variance": float(np.var(Y, ddof=1)) if len(Y) > 1 else np.nan}
    if Y_reps is not None and Y_reps.shape[1] >= 2:
        R = Y_reps.shape[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            within = float(np.nanmean(np.nanvar(Y_reps, axis=1, ddof=1)))
        between = noise["between_variance"]
        noise.update(reps=int(R), within_variance=within,
                     noise_share=float(within / R / between) if between > 0 else np.nan)
    if di is not None:
        for label in ("ST", "S1", "mu_star"):
            sel = indices[(indices["index"] == label) & indices["is_dummy"]]
            if len(sel):
                noise[f"dummy_{label}"] = float(sel["value"].iloc[0])
    return indices, s2, noise


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _finish(store, spec: ExperimentSpec):
    from .plots import morris_figure, save_figure, sobol_figure

    # consolidate per-run tables
    with store.sink("scalars") as sink:
        for _, part in store.stream("scalars"):
            sink.write(part)
    if spec.keep_series:
        with store.sink("results", csv=spec.n_runs * (spec.steps + 1) <= 1_000_000) as sink:
            for _, part in store.stream("series"):
                sink.write(part)
    if store.folder is not None:
        path = store.folder / "scalars.parquet"
        scal = pd.read_parquet(path) if path.exists() else None
    else:
        scal = store.final.get("scalars")
    out_names = [o.spec for o in spec.outputs] or list(spec.function_outputs)
    info: dict = {"method": spec.sa["method"], "points": spec.n_points, "runs": spec.n_runs}
    figures: list = []
    if scal is None or scal["point"].nunique() < spec.n_points:
        missing = spec.n_points - (0 if scal is None else scal["point"].nunique())
        info["analysis"] = f"skipped: {missing} sample points have no finished run"
        return figures, info
    sa = spec.sa
    X = spec.extra_X
    all_ind, all_s2, noises = [], [], []
    for name in out_names:
        wide = scal.pivot_table(index="point", columns="rep", values=name, aggfunc="first").sort_index()
        Y_reps = wide.to_numpy(dtype=float)
        Y = np.nanmean(Y_reps, axis=1)
        if not np.all(np.isfinite(Y)):
            info.setdefault("skipped_outputs", []).append(name)
            continue
        ind, s2, noise = analyse(sa["method"], sa["problem"], X, Y, output=name,
                                 second_order=bool(sa.get("second_order")), levels=sa.get("levels") or 4,
                                 M=sa.get("M") or 4, num_resamples=spec.analysis["num_resamples"],
                                 conf_level=spec.analysis["conf_level"], seed=spec.analysis["bootstrap_seed"],
                                 dummy=DUMMY if sa["dummy"] else None, Y_reps=Y_reps)
        all_ind.append(ind)
        if s2 is not None:
            all_s2.append(s2)
        noises.append(noise)
    if not all_ind:
        info["analysis"] = "skipped: no output has a finite value at every point"
        return figures, info
    indices = pd.concat(all_ind, ignore_index=True)
    store.write_table(indices, "indices")
    if all_s2:
        store.write_table(pd.concat(all_s2, ignore_index=True), "indices_s2")
    store.write_table(pd.DataFrame(noises), "noise")
    info["noise"] = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in nz.items()}
                     for nz in noises]
    info["above_floor"] = {
        name: sorted(indices[(indices["output"] == name) & indices["above_floor"].fillna(False)
                             & indices["index"].isin(["ST", "mu_star"])]["parameter"].tolist())
        for name in dict.fromkeys(indices["output"])}
    if store.folder is not None:
        for name in dict.fromkeys(indices["output"]):
            if sa["method"] == "morris":
                fig = morris_figure(indices, name)
                figures.append(save_figure(fig, store.folder, f"morris_{_slug(name)}.png"))
            else:
                title = (f"{'Sobol' if sa['method'] == 'sobol' else 'eFAST'} indices of {name} "
                         f"(hatched: not above the noise floor)")
                fig = sobol_figure(indices, name, title=title)
                figures.append(save_figure(fig, store.folder, f"{sa['method']}_{_slug(name)}.png"))
    return figures, info


def sensitivity(model="baseline", params: Sequence[str | tuple] = (), outputs: Sequence[str] = (), *,
                method: str = "sobol", n: int = 256, reps: int = 1, steps: int | None = None, seed: int = 0,
                dummy: bool = True, second_order: bool = True, levels: int = 4, M: int = 4,
                num_resamples: int = 1000, conf_level: float = 0.95, overrides: Mapping[str, Any] | None = None,
                arm: str | None = None, keep_series: bool = False, model_factory=None,
                out: str | Path | None = None, executor=None, workers: int | None = None,
                progress=None) -> ExperimentResult:
    """Global sensitivity analysis of a scenario (or of a plain function).

    Parameters
    ----------
    model : Scenario, str, Path or callable
        A scenario (name or file) run with GovModel, or a plain function
        ``f(**params) -> float | dict`` (it receives ``seed=`` if it accepts it).
    params : list of str or tuple
        ``"key=low:high"`` or ``(key, low, high)``.
    outputs : list of str
        Scalar output specs for a scenario; output names (keys of the
        function's returned dict) for a function (default ``["y"]``).
    method : {"sobol", "morris", "fast"}
    n : int
        Base sample size (sobol: a power of 2; morris: trajectories; fast:
        points per parameter, > 4M²).
    reps : int
        Replicate seeds per sample point (the mean is analysed).
    steps, seed, overrides, arm
        As in :func:`govsim.experiments.replicate`.
    dummy : bool
        Add the dummy parameter that sets the noise floor (default True).
    second_order : bool
        Sobol second-order indices (N·(2D+2) runs instead of N·(D+2)).
    levels : int
        Morris grid levels.
    M : int
        eFAST interference parameter.
    num_resamples, conf_level : int, float
        Bootstrap of the confidence intervals.
    keep_series : bool
        Also keep every run's per-step table (``results``).
    model_factory : str or callable, optional
        Custom model (``"module:callable"``), as ``--model``.
    out, executor, workers, progress
        As in :func:`govsim.experiments.replicate`; for a plain function the
        default executor is serial (pass ``workers`` to use processes; the
        function must then be importable).

    Returns
    -------
    ExperimentResult
        Tables ``design``, ``scalars`` (per run), ``indices`` (with ``floor``
        and ``above_floor``), ``indices_s2`` (sobol second order), ``noise``;
        figures ``sobol_<output>.png`` / ``fast_<output>.png`` /
        ``morris_<output>.png``.

    Examples
    --------
    >>> from SALib.test_functions import Ishigami
    >>> f = lambda x1, x2, x3: float(Ishigami.evaluate(np.array([[x1, x2, x3]]))[0])
    >>> pi = float(np.pi)
    >>> res = sensitivity(f, [("x1", -pi, pi), ("x2", -pi, pi), ("x3", -pi, pi)], n=256,
    ...                   second_order=False, progress=False)
    >>> ind = res["indices"].set_index(["parameter", "index"])["value"]
    >>> round(float(ind["x2", "S1"]), 1)
    0.4
    """
    spec = sa_spec(model, params, outputs, method=method, n=n, reps=reps, steps=steps, seed=seed, dummy=dummy,
                   second_order=second_order, levels=levels, M=M, num_resamples=num_resamples,
                   conf_level=conf_level, overrides=overrides, arm=arm, keep_series=keep_series,
                   model_factory=model_factory)
    factory = None
    if spec.function is not None and executor is None and workers is None:
        from .executors import SerialExecutor

        factory = SerialExecutor
    label = f"sa {method} " + (spec.scenario.name if spec.scenario is not None else "function")
    return run_experiment(spec, out=out, executor=executor, workers=workers, progress=progress, finish=_finish,
                          design=design_table(spec), label=label, executor_factory=factory)


def run_spec(spec: ExperimentSpec, **kwargs) -> ExperimentResult:
    """Run an already built SA spec (used by the command line)."""
    return run_experiment(spec, finish=_finish, design=design_table(spec), **kwargs)

