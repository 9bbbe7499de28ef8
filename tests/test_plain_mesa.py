"""govsim and its plain-Mesa peer (benchmarks/plain_mesa) agree in distribution.

For each rule (``bass``, and the default ``utility`` with the foundation
mechanics of ``benchmarks/plain_mesa/foundation.toml``) both implementations run
the same 20 seeds at 2,000 citizens, each seed from the same initial state and
on the same network (see ``benchmarks/plain_mesa/common.py``). Their random
draws differ (numpy bulk draws against one ``random.random()`` per agent and
decision), so the runs differ; their *mean* adoption curves must not.

Statistic and tolerance
-----------------------
At each step t >= 1, d_t = (mean over seeds of govsim's adoption rate) − (the
same for the peer), and SE_t = sqrt(s²_govsim,t / 20 + s²_peer,t / 20) from
the replicate standard deviations. The test asserts::

    max_t |d_t| − 4 SE_t <= 1 / n_citizens

i.e. no step's difference exceeds four standard errors (a two-sided z of 4
has probability 6e-5; over at most 60 steps the chance of a false alarm is
below 0.4 %, so a failure means a real difference), plus one citizen's
worth of slack for the steps where both curves have saturated and SE_t is 0.
The seeds are fixed, so the outcome is deterministic.

Negative control: the same statistic with govsim run with a changed rule
(Bass q 0.38 → 0.32; utility b_ee 4 → 3.5, i.e. one implementation changed,
the other not) must exceed the tolerance, so the test does detect a change of
that size.

The benchmark's third implementation, the peer's step compiled into one loop
(``benchmarks/plain_mesa/fused.py``, the yardstick of table 1b), is held to the
same statistic against the peer, with the same negative control.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from plain_mesa.bass import BassModel  # noqa: E402
from plain_mesa.common import initial_govsim, load_foundation  # noqa: E402
from plain_mesa.fused import FusedModel  # noqa: E402
from plain_mesa.utility import UtilityModel  # noqa: E402

SEEDS = range(20)
N_CITIZENS = 2_000
STEPS = {"bass": 25, "utility": 40}
PEERS = {"bass": BassModel, "utility": UtilityModel}
Z = 4.0
#: a change of a rule in one implementation only, for the negative control
PERTURBED = {"bass": {"adoption.q": 0.32}, "utility": {"utility.b_ee": 3.5}}


def govsim_curves(rule: str, steps: int, n: int = N_CITIZENS, overrides: dict | None = None) -> np.ndarray:
    """Adoption curves (seeds × steps + 1) of govsim on the foundation scenario."""
    sc = load_foundation(rule, {"citizens.n": n, **(overrides or {})})
    return np.array([initial_govsim(sc, seed).run(steps)["adoption_rate"].to_numpy() for seed in SEEDS])


def peer_curves(rule: str, steps: int, n: int = N_CITIZENS, overrides: dict | None = None,
                implementation=None) -> np.ndarray:
    """Adoption curves (seeds × steps + 1) of the plain-Mesa peer (or ``implementation``, a class with the
    peers' signature such as ``FusedModel``), from govsim's initial states."""
    sc = load_foundation(rule, {"citizens.n": n, **(overrides or {})})
    out = []
    for seed in SEEDS:
        peer = (implementation or PEERS[rule])(sc, initial_govsim(sc, seed), rng=seed)
        for _ in range(steps):
            peer.step()
        out.append(peer.adoption_curve())
    return np.array(out)


def excess(a: np.ndarray, b: np.ndarray, n: int = N_CITIZENS) -> float:
    """max_t (|mean difference| − Z standard errors) − 1/n over steps t >= 1: <= 0 means agreement."""
    diff = np.abs(a.mean(axis=0) - b.mean(axis=0))[1:]
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))[1:]
    return float(np.max(diff - Z * se)) - 1.0 / n


@pytest.fixture(scope="module", params=["bass", "utility"])
def curves(request):
    rule = request.param
    steps = STEPS[rule]
    return rule, govsim_curves(rule, steps), peer_curves(rule, steps)


def test_mean_adoption_curves_agree(curves):
    rule, gov, peer = curves
    assert gov.shape == peer.shape == (len(SEEDS), STEPS[rule] + 1)
    np.testing.assert_array_equal(gov[:, 0], peer[:, 0])  # the same initial state
    assert excess(gov, peer) <= 0.0, (
        f"{rule}: govsim {np.round(gov.mean(axis=0), 4)} vs plain Mesa {np.round(peer.mean(axis=0), 4)}")
    assert gov.mean(axis=0)[-1] > gov.mean(axis=0)[0] + 0.2  # something diffused


def test_a_rule_changed_in_one_implementation_is_detected(curves):
    rule, _, peer = curves
    changed = govsim_curves(rule, STEPS[rule], overrides=PERTURBED[rule])
    assert excess(changed, peer) > 0.0


def test_the_compiled_loop_agrees_with_the_peer(curves):
    rule, _, peer = curves
    fused = peer_curves(rule, STEPS[rule], implementation=FusedModel)
    np.testing.assert_array_equal(fused[:, 0], peer[:, 0])
    assert excess(fused, peer) <= 0.0, (
        f"{rule}: compiled loop {np.round(fused.mean(axis=0), 4)} vs plain Mesa {np.round(peer.mean(axis=0), 4)}")
    changed = peer_curves(rule, STEPS[rule], overrides=PERTURBED[rule], implementation=FusedModel)
    assert excess(changed, peer) > 0.0


def test_the_compiled_loop_draws_what_numpy_draws():
    """numba's Generator.random inside a loop gives numpy's numbers and leaves the generator where numpy would."""
    from plain_mesa.fused import draw_in_loop, exp_in_loop

    looped, bulk = np.random.default_rng(7), np.random.default_rng(7)
    out = np.empty(1_000)
    draw_in_loop(looped, out)
    np.testing.assert_array_equal(out, bulk.random(1_000))
    assert looped.bit_generator.state == bulk.bit_generator.state
    x = out.copy()
    exp_in_loop(x, out)
    np.testing.assert_allclose(out, np.exp(x), rtol=1e-15)  # libm's exp against numpy's: within an ulp or two


def test_the_compiled_loop_is_fixed_by_its_seed_and_tracks_awareness():
    sc = load_foundation("utility", {"citizens.n": 500})
    runs = []
    for seed in (3, 3, 4):
        fused = FusedModel(sc, initial_govsim(sc, 3), rng=seed)
        for _ in range(10):
            fused.step()
        runs.append((fused.adoption_curve(), fused.aware_curve()))
    assert runs[0] == runs[1] and runs[0] != runs[2]
    aware = np.array(runs[0][1])
    assert np.all(np.diff(aware) >= 0) and aware[-1] > aware[0]  # awareness spreads and is never lost
    with pytest.raises(ValueError, match="'bass' and 'utility'"):
        FusedModel(load_foundation("utility", {"adoption.rule": "threshold", "citizens.n": 50}),
                   initial_govsim(sc, 0))


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["bass", "utility"])
def test_long_runs_agree_and_a_changed_peer_is_detected(rule):
    """120 steps; the negative control changes the peer this time."""
    steps = 120
    gov = govsim_curves(rule, steps)
    assert excess(gov, peer_curves(rule, steps)) <= 0.0
    assert excess(gov, peer_curves(rule, steps, overrides=PERTURBED[rule])) > 0.0


def test_benchmark_command_runs_in_quick_mode(tmp_path):
    """benchmarks/bench_vs_mesa.py --quick at tiny sizes, writing into tmp_path (so it cannot rot)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_vs_mesa.py"), "--quick", "--doc", str(tmp_path / "perf.md"),
         "--plot", str(tmp_path / "scaling.png"), "--json", str(tmp_path / "raw.json")],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "plain Mesa / govsim" in out.stdout
    # the step split in place: the kernels were really timed (the wrappers reached them), and the parts fit the step
    assert "Where govsim's step goes" in out.stdout and "kernel `_serve_finish`" in out.stdout
    raw = json.loads((tmp_path / "raw.json").read_text())
    for rule, bd in raw["breakdown"].items():
        kernels = {k for k in bd["parts"] if k != "Generator.random"}
        assert {"utility": {"_serve_prepare", "_unpack_neighbour_sums", "_learn"}, "bass": {"_bass_csr"}}[rule] <= kernels
        assert bd["parts"]["Generator.random"] > 0
        assert 0 < sum(bd["parts"].values()) < bd["step_s"]
    assert "one compiled loop" in out.stdout
    for pair in raw["pairs"]:  # the yardstick timed in the same repeats as the peer and govsim
        assert pair["fused_s"] > 0 and pair["fused_ratio"] == pytest.approx(pair["peer_s"] / pair["fused_s"])  # one repeat
    assert set(raw["primitives"]) == {"draw_loop", "draw_numpy", "exp_loop", "exp_numpy"}
    assert all(v > 0 for v in raw["primitives"].values()) and "inside a numba loop costs" in out.stdout
    assert (tmp_path / "scaling.png").stat().st_size > 0
    text = (tmp_path / "perf.md").read_text()
    assert "<!-- bench_vs_mesa:begin -->" in text and "<!-- bench_vs_mesa:end -->" in text


@pytest.mark.parametrize("module", ["bass", "utility", "fused"])
def test_the_examples_in_the_docstrings_run(module):
    import doctest
    import importlib

    failed, attempted = doctest.testmod(importlib.import_module(f"plain_mesa.{module}"))
    assert attempted > 0 and failed == 0
