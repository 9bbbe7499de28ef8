"""govsim against plain Mesa, and govsim's scaling: the one performance benchmark command.

Prints, in one run, Markdown tables of

1. time per citizen-step of the plain-Mesa peer (``benchmarks/plain_mesa``) and
   of govsim on the same foundation scenario, both rules, at 10^4 citizens, and
   their ratio (target: govsim at least 200× faster); then the same govsim
   step split into its compiled kernels, its uniform draws and the rest (each
   kernel timed in place), with the ratio a step made of the kernels and draws
   alone would reach; and the peer's step compiled into one loop
   (``plain_mesa/fused.py``) timed beside both, as a yardstick;
2. govsim's time per step (full model) divided by one bare CSR neighbour sum
   ``A @ x`` on the same network at 10^6 citizens (target: at most 5×);
3. scaling of the full model (``baseline`` scenario: every mechanic on),
   10^3 … 10^6 citizens: time per step, total for 120 steps, peak memory
   (targets at 10^6: under 20 s, under 1 GB); the foundation configuration
   and plain Mesa alongside (plain Mesa up to ``--mesa-max`` citizens);
4. network build time at 10^6 nodes for each network kind (target: under 3 s
   for the default);
5. ``import govsim`` time;

writes the log-log plot of time per step against citizens
(``docs/img/performance-scaling.png``) and rewrites the generated part of
``docs/performance.md`` (between ``<!-- bench_vs_mesa:begin -->`` and
``<!-- bench_vs_mesa:end -->``; the prose around it stays).

Every govsim size runs in a fresh subprocess, so its peak resident memory
(``VmHWM``, else ``ru_maxrss``) is its own; each measurement is repeated ``--repeats`` times
and medians are reported. The govsim/plain-Mesa ratios are measured in one
process, the two implementations alternating over the same steps from the
same initial state, and the ratio is the median of the per-repeat ratios (so a
burst of load from other users of the machine hits both sides alike).

Usage::

    python benchmarks/bench_vs_mesa.py              # the full benchmark (several minutes)
    python benchmarks/bench_vs_mesa.py --quick      # tiny sizes, a smoke run (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

DOC = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "img" / "performance-scaling.png"
BEGIN, END = "<!-- bench_vs_mesa:begin -->", "<!-- bench_vs_mesa:end -->"
KINDS = ("homophily", "erdos_renyi", "watts_strogatz", "barabasi_albert", "complete")

FOUNDATION_STEPS = 60  #: scenario.steps of benchmarks/plain_mesa/foundation.toml (checked in run())

TARGETS = {"mesa_ratio": 200.0, "spmv_ratio": 5.0, "total_120_s": 20.0, "peak_mb": 1024.0, "network_s": 3.0}

# -- child processes ---------------------------------------------------------------------------
# One govsim model per process: build, step, time; peak memory is the process's own.
CHILD_MODEL = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import govsim
from plain_mesa.common import load_foundation
config, n, steps = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def warm_up(sc):  # load the compiled kernels (numba's cache) before anything is timed
    govsim.GovModel(sc.with_overrides({"citizens.n": 500}), rng=0).run(2)
if config == "full":
    sc = govsim.load_scenario("baseline", {"citizens.n": n})
    warm_up(sc)
else:  # the foundation scenario, both rules: time per step only
    out = {}
    for rule in ("utility", "bass"):
        warm_up(load_foundation(rule))
        m = govsim.GovModel(load_foundation(rule, {"citizens.n": n}), rng=1)
        t0 = time.perf_counter()
        for _ in range(steps):
            m.step()
        out[rule] = {"n": n, "step_s": (time.perf_counter() - t0) / steps}
        del m
    print(json.dumps(out))
    sys.exit(0)
t0 = time.perf_counter()
m = govsim.GovModel(sc, rng=1)
build = time.perf_counter() - t0
# after each step, one bare neighbour sum A @ x on the same network: the pair sees the same load
A = m.network.to_scipy() if m.network.kind != "complete" else None
times, spmv = [], []
for _ in range(steps):
    t0 = time.perf_counter()
    m.step()
    times.append(time.perf_counter() - t0)
    if A is not None:
        x = m.citizens.adopted.astype(np.float64)
        t0 = time.perf_counter()
        A @ x
        spmv.append(time.perf_counter() - t0)
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
try:  # VmHWM is this process's own peak; ru_maxrss can carry the parent's from before exec
    with open("/proc/self/status") as fh:
        peak_mb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
except (OSError, StopIteration):
    pass
nan = float("nan")
print(json.dumps({"n": n, "build_s": build, "total_s": sum(times), "step_s": sum(times) / steps,
                  "step_median_s": float(np.median(times)), "spmv_s": float(np.median(spmv)) if spmv else nan,
                  "step_spmv_ratio": float(np.median(np.divide(times, spmv))) if spmv else nan,
                  "peak_mb": peak_mb}))
"""

CHILD_NETWORK = r"""
import json, sys, time
import numpy as np
import govsim
from govsim.citizens import create_population
from govsim.networks import build_network
n, out = int(sys.argv[1]), {}
for kind in sys.argv[2:]:
    sc = govsim.load_scenario("baseline", {"citizens.n": n, "network.kind": kind})
    pop = create_population(sc, np.random.default_rng(0))
    t0 = time.perf_counter()
    net = build_network(sc, pop, np.random.default_rng(1))
    out[kind] = {"kind": kind, "n": n, "build_s": time.perf_counter() - t0, "edges": int(net.n_edges)}
    del net, pop
print(json.dumps(out))
"""

# Where the foundation step goes: every compiled kernel and every uniform draw of the step, timed in place.
# The kernels are loaded by a warm-up model first (a kernel calls others by their compiled form, so replacing
# the module attributes by timing wrappers afterwards changes nothing inside them); results are unchanged.
CHILD_BREAKDOWN = r"""
import collections, json, sys, time
sys.path.insert(0, sys.argv[1])
import numba
import govsim
from plain_mesa.common import initial_govsim, load_foundation
rule, n, steps, repeats = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sc = load_foundation(rule, {"citizens.n": n})
initial_govsim(sc.with_overrides({"citizens.n": 500}), 0).run(2)
spent, calls = collections.Counter(), collections.Counter()

def timed(name, f):
    def call(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - t0
            calls[name] += 1
    return call

wrappers = {}
for mod in [m for name, m in sys.modules.items() if name == "govsim" or name.startswith("govsim.")]:
    for attr, f in list(vars(mod).items()):
        if isinstance(f, numba.core.registry.CPUDispatcher):
            if id(f) not in wrappers:
                wrappers[id(f)] = timed(f.py_func.__name__, f)
            setattr(mod, attr, wrappers[id(f)])

class TimedGenerator:  # the dynamics stream, its uniform draws timed
    def __init__(self, rng):
        self.rng = rng
        self.random = timed("Generator.random", rng.random)
    def __getattr__(self, name):
        return getattr(self.rng, name)

step_s, runs = [], []  # per run: seconds per step, and seconds per step of each part
for rep in range(repeats):
    m = initial_govsim(sc, rep)
    m.streams["dynamics"] = TimedGenerator(m.streams["dynamics"])
    spent.clear(); calls.clear()
    t0 = time.perf_counter()
    for _ in range(steps):
        m.step()
    step_s.append((time.perf_counter() - t0) / steps)
    runs.append({k: v / steps for k, v in spent.items()})
per = {k: sorted(r.get(k, 0.0) for r in runs)[len(runs) // 2] for k in set().union(*runs)}
print(json.dumps({"rule": rule, "n": n, "steps": steps, "step_s": sorted(step_s)[len(step_s) // 2],
                  "parts": per, "calls": {k: v / steps for k, v in calls.items()}}))
"""

CHILD_IMPORT = "import time; t0 = time.perf_counter(); import govsim; print(time.perf_counter() - t0)"


def _run_child(code: str, *args) -> dict | float:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(values):
    return statistics.median(values)


def _median_record(runs: list[dict]) -> dict:
    return {k: median([r[k] for r in runs]) if isinstance(runs[0][k], (int, float)) else runs[0][k]
            for k in runs[0]}


# -- 1. plain Mesa against govsim, in one process ------------------------------------------------
def _seconds_per_step(build, steps: int) -> float:
    """Seconds per step of ``build()`` over ``steps`` steps, the garbage of earlier runs collected first.

    The collection comes before the build, as in a script that builds a model
    and runs it. Collected between build and run instead, govsim's ``bass``
    step at 10^4 citizens ran about 5 µs (a fifth) slower, although no
    collection ran during the steps (measured with ``gc.callbacks``; the
    cause was not established).
    """
    import gc

    gc.collect()
    model = build()
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
    return (time.perf_counter() - t0) / steps


def time_pair(rule: str, n: int, steps: int, repeats: int) -> dict:
    """Seconds per step of the plain-Mesa peer, of govsim and of the compiled loop over the same steps, alternating.

    Each repeat builds all three from one fresh initial state (seed = repeat)
    and times steps 1..``steps`` of each (the whole run with ``steps`` = the
    scenario's). The compiled loop (``plain_mesa/fused.py``) is the yardstick of
    table 1b.
    """
    from plain_mesa.bass import BassModel
    from plain_mesa.common import initial_govsim, load_foundation
    from plain_mesa.fused import FusedModel
    from plain_mesa.utility import UtilityModel

    peer_cls = {"bass": BassModel, "utility": UtilityModel}[rule]
    sc = load_foundation(rule, {"citizens.n": n})
    small = sc.with_overrides({"citizens.n": 500})
    initial_govsim(small, 0).run(2)  # load the compiled kernels first
    FusedModel(small, initial_govsim(small, 0), rng=0).step()
    peer_s, gov_s, fused_s = [], [], []
    for rep in range(repeats):
        peer_s.append(_seconds_per_step(lambda: peer_cls(sc, initial_govsim(sc, rep), rng=rep), steps))
        gov_s.append(_seconds_per_step(lambda: initial_govsim(sc, rep), steps))
        fused_s.append(_seconds_per_step(lambda: FusedModel(sc, initial_govsim(sc, rep), rng=rep), steps))
    ratios = [p / g for p, g in zip(peer_s, gov_s, strict=True)]
    fused_ratios = [p / f for p, f in zip(peer_s, fused_s, strict=True)]
    return {"rule": rule, "n": n, "steps": steps, "processes": sc["scenario.processes"],
            "peer_s": median(peer_s), "gov_s": median(gov_s), "fused_s": median(fused_s),
            "ratio": median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "fused_ratio": median(fused_ratios), "fused_ratio_min": min(fused_ratios),
            "fused_ratio_max": max(fused_ratios),
            "fused_over_gov": median([f / g for f, g in zip(fused_s, gov_s, strict=True)])}


def time_primitives(size: int, repeats: int) -> dict:
    """Nanoseconds per uniform and per ``exp``, inside a numba loop (as the compiled loop of table 1b) and
    from numpy over a whole array (as govsim): what one loop gains or loses against bulk numpy calls.

    Each is the median of ``repeats`` timings of ``size`` values; the loop
    draws from the same ``numpy.random.Generator`` (numba draws the numbers
    numpy would), the ``exp`` is of float64 values in [0, 1).
    """
    import numpy as np
    from plain_mesa.fused import draw_in_loop, exp_in_loop

    rng = np.random.default_rng(0)
    x = rng.random(size)
    out = np.empty(size)
    draw_in_loop(rng, out[:10])  # load the compiled code first
    exp_in_loop(x[:10], out[:10])
    cases = {"draw_loop": lambda: draw_in_loop(rng, out), "draw_numpy": lambda: rng.random(out=out),
             "exp_loop": lambda: exp_in_loop(x, out), "exp_numpy": lambda: np.exp(x, out=out)}
    res = {}
    for name, call in cases.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        res[name] = 1e9 * median(times) / size
    return res


# -- machine -----------------------------------------------------------------------------------
def machine() -> dict:
    import mesa
    import numpy
    import scipy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 1024**2
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpu": cpu, "cores": cores, "memory_gb": mem_gb, "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "numpy": numpy.__version__, "scipy": scipy.__version__,
            "mesa": mesa.__version__, "load": load, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


# -- the run -----------------------------------------------------------------------------------
def settings(quick: bool) -> dict:
    if quick:
        return {"pair_n": 1_000, "pair_steps": 3, "pair_repeats": 1, "sizes": [1_000], "steps": 5,
                "foundation_steps": 3, "mesa_sizes": [500], "mesa_steps": 2, "spmv_n": 1_000,
                "network_n": 5_000, "repeats": 1, "import_repeats": 1}
    # pair_steps: a whole run of the foundation scenario (its scenario.steps), so the one-off cost of a
    # fresh model's first step and the cheaper late steps (few left to adopt) weigh as in a real run
    return {"pair_n": 10_000, "pair_steps": FOUNDATION_STEPS, "pair_repeats": 5,
            "sizes": [1_000, 10_000, 100_000, 1_000_000], "steps": 120, "foundation_steps": FOUNDATION_STEPS, "mesa_sizes": [1_000, 10_000, 100_000], "mesa_steps": 5,
            "spmv_n": 1_000_000, "network_n": 1_000_000, "repeats": 3, "import_repeats": 5}


def run(cfg: dict, mesa_max: int, log) -> dict:
    from plain_mesa.common import load_foundation

    if load_foundation()["scenario.steps"] != FOUNDATION_STEPS:
        raise SystemExit("FOUNDATION_STEPS differs from scenario.steps of benchmarks/plain_mesa/foundation.toml")
    res: dict = {"cfg": cfg, "machine": machine()}
    log(f"machine: {res['machine']}")
    # 3. scaling, one subprocess per run
    res["full"], res["foundation"] = {}, {"utility": {}, "bass": {}}
    for n in cfg["sizes"]:
        runs = [_run_child(CHILD_MODEL, BENCH, "full", n, cfg["steps"]) for _ in range(cfg["repeats"])]
        res["full"][n] = _median_record(runs)
        log(f"full {n}: {res['full'][n]}")
        runs = [_run_child(CHILD_MODEL, BENCH, "foundation", n, cfg["foundation_steps"])
                for _ in range(cfg["repeats"])]
        for rule in ("utility", "bass"):
            res["foundation"][rule][n] = _median_record([r[rule] for r in runs])
            log(f"foundation {rule} {n}: {res['foundation'][rule][n]}")
    # 2. govsim / A@x at spmv_n (from the full-model runs; their own ratio, median over runs)
    if cfg["spmv_n"] not in res["full"]:
        runs = [_run_child(CHILD_MODEL, BENCH, "full", cfg["spmv_n"], cfg["steps"]) for _ in range(cfg["repeats"])]
        res["full"][cfg["spmv_n"]] = _median_record(runs)
    # 4. network builds
    res["networks"] = {}
    runs = [_run_child(CHILD_NETWORK, cfg["network_n"], *KINDS) for _ in range(cfg["repeats"])]
    for kind in KINDS:
        res["networks"][kind] = _median_record([r[kind] for r in runs])
        log(f"network {kind}: {res['networks'][kind]}")
    # 5. import
    times = []
    for _ in range(cfg["import_repeats"]):
        out = subprocess.run([sys.executable, "-c", CHILD_IMPORT], capture_output=True, text=True, cwd=ROOT,
                             check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    res["import_s"] = median(times)
    # 1. plain Mesa / govsim at pair_n, in this process (last: a big parent would inflate the children's ru_maxrss)
    res["pairs"] = []
    for rule in ("utility", "bass"):
        r = time_pair(rule, cfg["pair_n"], cfg["pair_steps"], cfg["pair_repeats"])
        log(f"pair {rule}: {r}")
        res["pairs"].append(r)
    res["primitives"] = time_primitives(cfg["pair_n"] * 3, cfg["pair_repeats"])
    log(f"primitives: {res['primitives']}")
    # where govsim's step goes at pair_n (a subprocess: it replaces the kernels by timing wrappers)
    res["breakdown"] = {}
    for rule in ("utility", "bass"):
        res["breakdown"][rule] = _run_child(CHILD_BREAKDOWN, BENCH, rule, cfg["pair_n"], cfg["pair_steps"],
                                            cfg["pair_repeats"])
        log(f"breakdown {rule}: {res['breakdown'][rule]}")
    # plain Mesa at other sizes (for the plot)
    res["mesa"] = {"utility": {}, "bass": {}}
    for pr in res["pairs"]:
        res["mesa"][pr["rule"]][pr["n"]] = {"peer_s": pr["peer_s"], "gov_s": pr["gov_s"]}
    for n in cfg["mesa_sizes"]:
        if n > mesa_max or n == cfg["pair_n"]:
            continue
        for rule in ("utility", "bass"):
            r = time_pair(rule, n, cfg["mesa_steps"], max(1, min(cfg["repeats"], cfg["pair_repeats"])))
            log(f"mesa {rule} {n}: {r}")
            res["mesa"][rule][n] = {"peer_s": r["peer_s"], "gov_s": r["gov_s"]}
    return res


# -- reporting ---------------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "**holds**" if ok else "**misses**"


def _fmt_n(n: int) -> str:
    return f"{n:,}"


def render(res: dict, plot_name: str) -> str:
    """The generated Markdown: machine, the five tables and the targets."""
    cfg, mac = res["cfg"], res["machine"]
    lines = [
        f"Generated by `python benchmarks/bench_vs_mesa.py{' --quick' if res.get('quick') else ''}` on "
        f"{mac['date']}.",
        "",
        f"**Machine.** {mac['cpu']}, {mac['cores']} cores available, {mac['memory_gb']:.1f} GB RAM, {mac['os']}; "
        f"Python {mac['python']}, numpy {mac['numpy']}, scipy {mac['scipy']}, Mesa {mac['mesa']}. Load average "
        f"at the start: {mac['load'][0]:.2f} (the machine is shared, so timings are noisy: medians of "
        f"{cfg['repeats']} runs, ratios measured in one run).",
        "",
        f"### 1. Plain Mesa / govsim, time per citizen-step at {_fmt_n(cfg['pair_n'])} citizens",
        "",
        f"Foundation scenario, the same {cfg['pair_steps']} steps"
        f"{' (a whole run of the scenario)' if cfg['pair_steps'] == FOUNDATION_STEPS else ''} from the same "
        f"initial state, the two implementations alternating run by run; medians of {cfg['pair_repeats']} repeats (ratio: median of the "
        "per-repeat ratios, range in brackets).",
        "",
        "| rule | govsim processes | plain Mesa (µs / citizen-step) | govsim (µs / citizen-step) | "
        "govsim (ms / step) | plain Mesa / govsim | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for pr in res["pairs"]:
        n = pr["n"]
        lines.append(
            f"| `{pr['rule']}` | `{pr.get('processes', '?')}` | {1e6 * pr['peer_s'] / n:.2f} | "
            f"{1e6 * pr['gov_s'] / n:.4f} | {1e3 * pr['gov_s']:.3f} | "
            f"{pr['ratio']:.0f}× [{pr['ratio_min']:.0f}–{pr['ratio_max']:.0f}] | ≥ {TARGETS['mesa_ratio']:.0f}×: "
            f"{_verdict(pr['ratio'] >= TARGETS['mesa_ratio'])} |")
    if res.get("breakdown"):
        lines += ["", *render_breakdown(res)]
    if all("fused_s" in pr for pr in res["pairs"]):
        lines += ["", *render_fused(res)]
    big = res["full"][cfg["spmv_n"]]
    spmv_ratio = big["step_spmv_ratio"]
    lines += [
        "",
        f"### 2. govsim time per step / bare neighbour sum `A @ x`, {_fmt_n(cfg['spmv_n'])} citizens",
        "",
        f"Full model (`baseline`, every mechanic on), {cfg['steps']} steps, each followed by one product "
        "`A @ x` (scipy CSR, float64, x the adoption state) on the model's own network; the ratio is the median "
        f"over steps of step time / product time, and the median over {cfg['repeats']} runs of that.",
        "",
        "| time per step (ms, median) | `A @ x` (ms, median) | step / `A @ x` | target |",
        "| ---: | ---: | ---: | --- |",
        f"| {1e3 * big['step_median_s']:.1f} | {1e3 * big['spmv_s']:.2f} | {spmv_ratio:.1f}× | "
        f"≤ {TARGETS['spmv_ratio']:.0f}×: {_verdict(spmv_ratio <= TARGETS['spmv_ratio'])} |",
        "",
        "### 3. Scaling",
        "",
        f"Full model (`baseline`): {cfg['steps']} steps. Foundation scenario (govsim side of table 1): "
        f"{cfg['foundation_steps']} steps. Plain Mesa: {cfg['mesa_steps']} steps below and "
        f"{cfg['pair_steps']} at {_fmt_n(cfg['pair_n'])} citizens, measured up to "
        f"{_fmt_n(max(max(v) for v in res['mesa'].values()))} citizens. Peak memory is the resident peak "
        "of the process that built and ran the full model (`VmHWM` of `/proc/self/status`).",
        "",
        "| citizens | full: build (s) | full: time/step (ms) | full: 120 steps (s) | full: peak memory (MB) | "
        "foundation utility (ms/step) | foundation bass (ms/step) | plain Mesa utility (ms/step) | "
        "plain Mesa bass (ms/step) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    sizes = sorted(set(res["full"]) | set(res["mesa"]["utility"]))
    for n in sizes:
        f = res["full"].get(n)
        fu, fb = res["foundation"]["utility"].get(n), res["foundation"]["bass"].get(n)
        mu, mb = res["mesa"]["utility"].get(n), res["mesa"]["bass"].get(n)

        def ms(x, key="step_s"):
            return f"{1e3 * x[key]:.3g}" if x else "–"  # 3 significant digits: 0.0403, 0.663, 114

        total120 = f"{f['step_s'] * 120:.1f}" if f else "–"
        build = f"{f['build_s']:.2f}" if f else "–"
        peak = f"{f['peak_mb']:.0f}" if f else "–"
        lines.append(f"| {_fmt_n(n)} | {build} | {ms(f)} | {total120} | {peak} | {ms(fu)} | {ms(fb)} | "
                     f"{ms(mu, 'peer_s')} | {ms(mb, 'peer_s')} |")
    n_max = max(res["full"])
    top = res["full"][n_max]
    lines += [
        "",
        f"At {_fmt_n(n_max)} citizens: 120 steps take {top['step_s'] * 120:.1f} s (target under "
        f"{TARGETS['total_120_s']:.0f} s: {_verdict(top['step_s'] * 120 < TARGETS['total_120_s'])}); peak memory "
        f"{top['peak_mb']:.0f} MB (target under 1 GB: {_verdict(top['peak_mb'] < TARGETS['peak_mb'])}).",
        "",
        f"![time per step against citizens, log-log](img/{plot_name})",
        "",
        f"### 4. Network build time, {_fmt_n(cfg['network_n'])} nodes",
        "",
        "`govsim.networks.build_network` alone (population drawn beforehand), median of "
        f"{cfg['repeats']} runs.",
        "",
        "| kind | build (s) | edges | target |",
        "| --- | ---: | ---: | --- |",
    ]
    for kind in KINDS:
        r = res["networks"][kind]
        target = (f"< {TARGETS['network_s']:.0f} s (default): {_verdict(r['build_s'] < TARGETS['network_s'])}"
                  if kind == "homophily" else "")
        lines.append(f"| `{kind}` | {r['build_s']:.2f} | {r['edges']:,} | {target} |")
    lines += [
        "",
        "### 5. Import",
        "",
        f"`import govsim` in a fresh interpreter: {res['import_s']:.2f} s (median of {cfg['import_repeats']}).",
        "",
        "### Targets",
        "",
        "| target | measured | |",
        "| --- | ---: | --- |",
    ]
    for pr in res["pairs"]:
        lines.append(f"| plain Mesa / govsim ≥ {TARGETS['mesa_ratio']:.0f}×, `{pr['rule']}`, "
                     f"{_fmt_n(pr['n'])} citizens | {pr['ratio']:.0f}× | {_verdict(pr['ratio'] >= TARGETS['mesa_ratio'])} |")
    home = res["networks"]["homophily"]["build_s"]
    lines += [
        f"| step / `A @ x` ≤ {TARGETS['spmv_ratio']:.0f}×, {_fmt_n(cfg['spmv_n'])} citizens | {spmv_ratio:.1f}× | "
        f"{_verdict(spmv_ratio <= TARGETS['spmv_ratio'])} |",
        f"| 120 steps < {TARGETS['total_120_s']:.0f} s, {_fmt_n(n_max)} citizens | {top['step_s'] * 120:.1f} s | "
        f"{_verdict(top['step_s'] * 120 < TARGETS['total_120_s'])} |",
        f"| peak memory < 1 GB, {_fmt_n(n_max)} citizens | {top['peak_mb']:.0f} MB | "
        f"{_verdict(top['peak_mb'] < TARGETS['peak_mb'])} |",
        f"| `homophily` network build < {TARGETS['network_s']:.0f} s, {_fmt_n(cfg['network_n'])} nodes | "
        f"{home:.2f} s | {_verdict(home < TARGETS['network_s'])} |",
    ]
    return "\n".join(lines)


GENERATOR = "Generator.random"
SHOWN_KERNEL_US = 2.0  #: kernels below this many µs per step (for both rules) are summed into one row


def render_fused(res: dict) -> list[str]:
    """Table 1b: the peer's step compiled into one loop, timed beside the peer and govsim (same repeats)."""
    pairs = res["pairs"]
    lines = [
        f"### 1b. The same model as one compiled loop, {_fmt_n(pairs[0]['n'])} citizens",
        "",
        "`benchmarks/plain_mesa/fused.py`: the plain-Mesa peer's per-agent step translated line by line into one "
        "numba loop over the citizens (neighbours from the CSR arrays, uniforms drawn inside the loop, no Python "
        "or numpy between passes because there is one pass). It runs the model of table 1 and nothing else, so it "
        "is a yardstick of what a compiled implementation of that model does on this machine. Timed in the same "
        "repeats as table 1, the three implementations alternating.",
        "",
        "| rule | compiled loop (ms / step) | govsim (ms / step) | plain Mesa / compiled loop | "
        "plain Mesa / govsim | compiled loop / govsim |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for pr in pairs:
        lines.append(
            f"| `{pr['rule']}` | {1e3 * pr['fused_s']:.3f} | {1e3 * pr['gov_s']:.3f} | "
            f"{pr['fused_ratio']:.0f}× [{pr['fused_ratio_min']:.0f}–{pr['fused_ratio_max']:.0f}] | "
            f"{pr['ratio']:.0f}× | {pr['fused_over_gov']:.2f} |")
    prim = res.get("primitives")
    if prim:
        lines += ["", f"One uniform drawn inside a numba loop costs {prim['draw_loop']:.1f} ns, against "
                  f"{prim['draw_numpy']:.1f} ns in numpy's bulk `Generator.random`; one float64 `exp` "
                  f"{prim['exp_loop']:.1f} ns in a numba loop, {prim['exp_numpy']:.1f} ns in numpy's vectorised "
                  f"`np.exp` (medians of {res['cfg']['pair_repeats']} timings of {3 * pairs[0]['n']:,} values)."]
    return lines


def render_breakdown(res: dict) -> list[str]:
    """Table 1a: govsim's foundation step split into compiled kernels, uniform draws and the rest.

    The last line divides the peer's time per step (table 1) by what the
    kernels and the draws alone take: the ratio a step would reach with
    nothing between its kernels.
    """
    bd, pairs = res["breakdown"], {pr["rule"]: pr for pr in res["pairs"]}
    rules = [r for r in ("utility", "bass") if r in bd]
    n = bd[rules[0]]["n"]

    def us(x: float) -> str:
        return f"{1e6 * x:.1f}"

    kernels = {r: {k: v for k, v in bd[r]["parts"].items() if k != GENERATOR} for r in rules}
    shown = sorted({k for r in rules for k, v in kernels[r].items() if 1e6 * v >= SHOWN_KERNEL_US},
                   key=lambda k: -max(kernels[r].get(k, 0.0) for r in rules))
    lines = [
        f"### 1a. Where govsim's step goes, {_fmt_n(n)} citizens",
        "",
        f"The govsim side of table 1 again ({bd[rules[0]]['steps']} steps from the same initial states, median "
        f"of {res['cfg']['pair_repeats']} runs), with every compiled kernel (`govsim.compiled.jit`) and every uniform draw "
        "of the step timed where it is called. The timers add a little to the step; the rest is numpy calls and "
        "the Python between the kernels.",
        "",
        "| part (µs / step) | " + " | ".join(f"`{r}`" for r in rules) + " |",
        "| --- | " + " | ".join("---:" for _ in rules) + " |",
    ]
    for k in shown:
        lines.append(f"| kernel `{k}` | " + " | ".join(us(kernels[r][k]) if k in kernels[r] else "–"
                                                      for r in rules) + " |")
    other = {r: sum(v for k, v in kernels[r].items() if k not in shown) for r in rules}
    total_k = {r: sum(kernels[r].values()) for r in rules}
    draws = {r: bd[r]["parts"].get(GENERATOR, 0.0) for r in rules}
    rest = {r: bd[r]["step_s"] - total_k[r] - draws[r] for r in rules}
    lines += [
        "| other kernels | " + " | ".join(us(other[r]) for r in rules) + " |",
        "| **all compiled kernels** | " + " | ".join(f"**{us(total_k[r])}**" for r in rules) + " |",
        "| uniform draws (numpy `Generator.random`) | " + " | ".join(us(draws[r]) for r in rules) + " |",
        "| numpy and Python between them | " + " | ".join(us(rest[r]) for r in rules) + " |",
        "| step, timers included | " + " | ".join(us(bd[r]["step_s"]) for r in rules) + " |",
        "",
    ]
    for r in rules:
        if r in pairs:
            floor = total_k[r] + draws[r]
            lines.append(f"* `{r}`: the kernels and the draws alone take {us(floor)} µs a step, so with nothing "
                         f"between them the plain-Mesa peer of table 1 ({1e3 * pairs[r]['peer_s']:.1f} ms a step) "
                         f"would be {pairs[r]['peer_s'] / floor:.0f}× slower (measured: {pairs[r]['ratio']:.0f}×).")
    return lines


def plot(res: dict, path: Path) -> None:
    """Log-log time per step against citizens (govsim full, foundation, plain Mesa; bare A @ x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.8))

    def line(data: dict, key: str, label: str, **kw):
        ns = sorted(data)
        ax.plot(ns, [data[n][key] for n in ns], marker="o", label=label, **kw)

    line(res["full"], "step_s", "govsim, full model (baseline)", color="C0")
    line(res["foundation"]["utility"], "step_s", "govsim, foundation, utility", color="C2")
    line(res["foundation"]["bass"], "step_s", "govsim, foundation, bass", color="C2", linestyle="--")
    line(res["mesa"]["utility"], "peer_s", "plain Mesa, utility", color="C3")
    line(res["mesa"]["bass"], "peer_s", "plain Mesa, bass", color="C3", linestyle="--")
    spmv = {n: r for n, r in res["full"].items() if r["spmv_s"] == r["spmv_s"]}
    line(spmv, "spmv_s", "one bare A @ x (same network)", color="0.5", linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("citizens")
    ax.set_ylabel("seconds per step")
    ax.set_title(f"Time per step (medians; {res['machine']['cpu'][:40]})", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


TEMPLATE = f"""# Performance

{BEGIN}
{END}
"""


def update_doc(path: Path, generated: str) -> None:
    """Replace the text between the markers of ``path`` (created from a stub if missing)."""
    text = path.read_text() if path.exists() else TEMPLATE
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), flags=re.S)
    text = pattern.sub(lambda _: f"{BEGIN}\n{generated}\n{END}", text, count=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes and few steps: a smoke run")
    ap.add_argument("--repeats", type=int, help="runs per measurement (default 3; 1 with --quick)")
    ap.add_argument("--max-n", type=int, help="largest population of the scaling table (default 10^6)")
    ap.add_argument("--mesa-max", type=int, default=100_000, help="largest population plain Mesa is run at")
    ap.add_argument("--doc", type=Path, default=DOC, help="Markdown file whose generated part is rewritten")
    ap.add_argument("--plot", type=Path, default=PLOT, help="where the log-log plot is written")
    ap.add_argument("--no-doc", action="store_true", help="print only; write neither the doc nor the plot")
    ap.add_argument("--json", type=Path, help="also save the raw measurements here")
    args = ap.parse_args(argv)

    cfg = settings(args.quick)
    if args.repeats:
        cfg["repeats"] = args.repeats
        cfg["pair_repeats"] = max(args.repeats, cfg["pair_repeats"]) if not args.quick else args.repeats
    if args.max_n:
        cfg["sizes"] = [n for n in cfg["sizes"] if n <= args.max_n]
        cfg["spmv_n"] = min(cfg["spmv_n"], max(cfg["sizes"]))
        cfg["network_n"] = min(cfg["network_n"], args.max_n)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    res = run(cfg, args.mesa_max, log)
    res["quick"] = args.quick
    res["wall_s"] = time.perf_counter() - t0
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))
    text = render(res, args.plot.name)
    print(text)
    print(f"\n(benchmark wall time {res['wall_s']:.0f} s)")
    if not args.no_doc:
        plot(res, args.plot)
        update_doc(args.doc, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
