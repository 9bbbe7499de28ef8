"""Experiments: replications, sweeps, sensitivity analysis, store, executors, CLI."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import govsim
from govsim import experiments as ex
from govsim.cli import main
from govsim.experiments.executors import ProcessExecutor, SerialExecutor
from govsim.seeds import run_seed

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # workers import test_experiments_support by name

import test_experiments_support as support  # noqa: E402

TINY = {"citizens.n": 300}
PI = float(np.pi)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    return env


@pytest.fixture(scope="module")
def pool():
    """One pool of 2 spawned workers shared by the tests of this module."""
    with ProcessExecutor(2) as p:
        yield p


def _tables(folder, names=("results", "bands", "summary")):
    return {n: pd.read_parquet(Path(folder) / f"{n}.parquet") for n in names}


# -- scalar outputs -----------------------------------------------------------------------------
def test_scalar_outputs_evaluate_and_validate():
    df = pd.DataFrame({"step": [0, 1, 2, 3, 4], "adoption_rate": [0.1, 0.2, 0.4, 0.6, 0.7]})
    cols = ["step", "adoption_rate"]
    assert ex.parse_output("adoption_rate", cols).evaluate(df) == 0.7
    assert ex.parse_output("mean:adoption_rate:2:3", cols).evaluate(df) == pytest.approx(0.5)
    assert ex.parse_output("mean:adoption_rate", cols).evaluate(df) == pytest.approx(np.mean([0.2, 0.4, 0.6, 0.7]))
    assert ex.parse_output("max:adoption_rate:0:2", cols).evaluate(df) == 0.4
    assert ex.parse_output("at:adoption_rate:1", cols).evaluate(df) == 0.2
    assert ex.parse_output("first_step:adoption_rate>=0.5", cols).evaluate(df) == 3.0
    assert ex.parse_output("first_step:adoption_rate:0.5", cols).spec == "first_step:adoption_rate>=0.5"
    assert ex.parse_output("first_step:adoption_rate<0.15", cols).evaluate(df) == 0.0
    # never reached: censored at steps + 1
    assert ex.parse_output("first_step:adoption_rate>=0.9", cols).evaluate(df) == 5.0
    with pytest.raises(govsim.ScenarioError, match="did you mean 'adoption_rate'"):
        ex.parse_output("final:adoption_rat")
    with pytest.raises(govsim.ScenarioError, match="unknown output function"):
        ex.parse_output("median:adoption_rate")
    with pytest.raises(govsim.ScenarioError, match="outside"):
        ex.parse_output("mean:adoption_rate:10:200", steps=120)
    with pytest.raises(govsim.ScenarioError, match="after its end"):
        ex.parse_output("mean:adoption_rate:20:10")


def test_grid_parsing_and_points():
    grid = ex.parse_grid(["adoption.p=0.01,0.02", "adoption.rule=bass,utility", "citizens.n=100:300:3"])
    assert grid["citizens.n"] == [100, 200, 300]
    pts = ex.grid_points(grid)
    assert len(pts) == 12 and pts[0] == {"adoption.p": 0.01, "adoption.rule": "bass", "citizens.n": 100}
    assert pts[1]["citizens.n"] == 200  # last key fastest
    with pytest.raises(govsim.ScenarioError, match="did you mean"):
        ex.parse_grid(["adoption.pp=0.1,0.2"])
    with pytest.raises(govsim.ScenarioError, match="must be <= 1"):
        ex.parse_grid(["adoption.p=0.1,2"])
    with pytest.raises(govsim.ScenarioError, match="list parameters"):
        ex.parse_grid(["citizens.need_rate=0.1,0.2"])


def test_samples_file_is_read_and_validated(tmp_path):
    good = tmp_path / "s.csv"
    good.write_text("adoption.p,adoption.rule\n0.01,bass\n0.02,utility\n")
    assert ex.read_samples(good) == [{"adoption.p": 0.01, "adoption.rule": "bass"},
                                     {"adoption.p": 0.02, "adoption.rule": "utility"}]
    pq = tmp_path / "s.parquet"
    pd.DataFrame({"adoption.p": [0.01, 0.02], "citizens.n": [100, 200]}).to_parquet(pq)
    assert ex.read_samples(pq)[1] == {"adoption.p": 0.02, "citizens.n": 200}
    bad = tmp_path / "bad.csv"
    bad.write_text("adoption.p\n0.5\n1.5\n")
    with pytest.raises(govsim.ScenarioError, match="samples row 2"):
        ex.read_samples(bad)


# -- seeds ------------------------------------------------------------------------------------------
def test_replicate_r_is_run_r_of_govsim_run():
    sc = govsim.load_scenario("baseline", TINY)
    res = ex.replicate(sc, reps=3, steps=4, seed=11, workers=1, progress=False)
    results = res["results"]
    for r in range(3):
        mine = results[results["rep"] == r]
        assert int(mine["seed"].iloc[0]) == run_seed(11, r)
        direct = govsim.GovModel(sc, rng=run_seed(11, r)).run(4)
        got = mine[direct.columns].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, direct, check_exact=True)
    # the replicates differ (a seed bug would make them equal)
    a, b = (results[results["rep"] == r]["adoption_rate"].to_numpy() for r in (0, 1))
    assert not np.array_equal(a, b)


def test_bands_match_runner_band_table():
    from govsim.runner import band_table

    res = ex.replicate("baseline", reps=4, steps=5, overrides=TINY, workers=1, progress=False)
    results = res["results"].assign(arm="baseline")
    ref = band_table(results.drop(columns=["run", "point"]), columns=["adoption_rate", "exclusion_rate"])
    got = res["bands"]
    for c in ("adoption_rate_mean", "adoption_rate_lo", "adoption_rate_hi", "exclusion_rate_hi"):
        np.testing.assert_allclose(got[c].to_numpy(), ref[c].to_numpy(), rtol=1e-12, atol=1e-12)
    assert (got["n"] == 4).all()
    assert (got["adoption_rate_hi"] >= got["adoption_rate_lo"]).all()


def test_table_sink_holds_a_bounded_number_of_small_parts(tmp_path):
    from govsim.experiments.store import TableSink

    parts = [pd.DataFrame({"run": [i, i], "x": [0.5 * i, 1.0]}) for i in range(1000)]
    sizes = []
    with TableSink(tmp_path, "a", max_chunks=16) as sink:
        for p in parts:
            sink.write(p)
            sizes.append(len(sink._buf))
    assert max(sizes) <= 16  # not one buffered table per part (each has a fixed overhead)
    with TableSink(tmp_path, "b", csv=False, rows=10**9, max_chunks=10**9) as sink:
        for p in parts:
            sink.write(p)
    ref = pd.concat(parts, ignore_index=True)
    for name in ("a", "b"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{name}.parquet"), ref)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), ref)


# -- bit-identical across executors ----------------------------------------------------------
def _sweep(out, **kw):
    return ex.sweep("baseline", grid={"adoption.p": [0.01, 0.05]}, reps=3, steps=5, seed=3, overrides=TINY,
                    outputs=["mean:adoption_rate:1:5"], out=out, progress=False, **kw)


def test_serial_and_process_pool_give_identical_tables(tmp_path, pool):
    _sweep(tmp_path / "serial", workers=1)
    res = _sweep(tmp_path / "procs", executor=pool)
    assert res.ok and res.counts["done"] == 6
    for name in ("results", "bands", "summary", "scalars", "design"):
        a = (tmp_path / "serial" / f"{name}.parquet").read_bytes()
        b = (tmp_path / "procs" / f"{name}.parquet").read_bytes()
        assert a == b, name
    t = _tables(tmp_path / "serial")
    assert t["results"]["run"].tolist() == sorted(t["results"]["run"].tolist())
    assert set(t["results"]["adoption.p"]) == {0.01, 0.05}


def test_memory_store_equals_disk_store(tmp_path):
    disk = _sweep(tmp_path / "disk", workers=1)
    mem = _sweep(None, workers=1)
    for name in ("results", "bands", "summary", "scalars"):
        pd.testing.assert_frame_equal(disk[name], mem[name], check_exact=True)


def _parallel_min_nnz(task):
    from govsim import networks

    return networks.PARALLEL_MIN_NNZ


def test_workers_filling_the_cores_keep_the_model_on_one_thread(pool):
    from govsim import networks
    from govsim.experiments.executors import default_workers
    from govsim.experiments.spec import Task

    if not hasattr(networks, "PARALLEL_MIN_NNZ"):
        pytest.skip("the model has no threaded neighbour sums")
    got = {o.tables for o in pool.run(_parallel_min_nnz, [Task(i, i, 0, 0, {}) for i in range(4)])}
    assert got == ({sys.maxsize} if pool.workers >= default_workers() else {networks.PARALLEL_MIN_NNZ})
    assert networks.PARALLEL_MIN_NNZ != sys.maxsize  # the driver's own setting is untouched


def test_process_worker_death_is_retried(tmp_path):
    kw = dict(reps=6, steps=10, overrides={"citizens.n": 1000})
    ref = ex.replicate("baseline", workers=1, progress=False, **kw)
    own = ProcessExecutor(2)
    killed = []

    def kill_one(done, total):
        if done == 1 and not killed:
            pid = own.pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with own:
        res = ex.replicate("baseline", executor=own, progress=kill_one, out=tmp_path / "x", **kw)
        assert killed[0] not in own.pids()
    assert killed and res.ok and res.counts["done"] == 6
    pd.testing.assert_frame_equal(res["results"], ref["results"], check_exact=True)


class ShuffledExecutor(SerialExecutor):
    """Runs every task, then hands the outcomes back in a shuffled order."""

    def run(self, job, tasks):
        outcomes = list(super().run(job, tasks))
        order = np.random.default_rng(7).permutation(len(outcomes))
        assert order.tolist() != sorted(order.tolist())
        for i in order:
            yield outcomes[i]


def test_tables_do_not_depend_on_the_order_runs_finish(tmp_path):
    _sweep(tmp_path / "serial", workers=1)
    _sweep(tmp_path / "shuffled", executor=ShuffledExecutor())
    for name in ("results", "bands", "summary", "scalars"):
        assert (tmp_path / "serial" / f"{name}.parquet").read_bytes() == \
            (tmp_path / "shuffled" / f"{name}.parquet").read_bytes(), name
    sa = dict(params=["awareness.p=0.001:0.05", "adoption.q=0.1:0.6"], outputs=["final:aware_rate"], n=4,
              steps=3, overrides={"citizens.n": 200}, second_order=False, progress=False)
    a = ex.sensitivity("baseline", **sa, workers=1, out=tmp_path / "sa1")
    b = ex.sensitivity("baseline", **sa, executor=ShuffledExecutor(), out=tmp_path / "sa2")
    for name in ("scalars", "indices", "noise"):
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


# -- a failing run -------------------------------------------------------------------------------
def test_failing_run_is_recorded_and_the_rest_complete(tmp_path, pool):
    out = tmp_path / "fail"
    res = ex.sweep("baseline", grid={"adoption.p": [0.01, 0.03, 0.05]}, reps=2, steps=4, overrides=TINY,
                   model="test_experiments_support:FailingModel", out=out, executor=pool, progress=False)
    assert not res.ok
    assert sorted(res.failed) == [4, 5]  # point 2 (adoption.p = 0.05), both replicates
    assert res.counts == {"total": 6, "done": 4, "failed": 2, "pending": 0}
    err = json.loads((out / "errors" / "run-000004.json").read_text())
    assert err["type"] == "RuntimeError" and "injected failure" in err["message"]
    assert err["seed"] == run_seed(0, 4) and err["overrides"] == {"adoption.p": 0.05}
    assert "Traceback" in err["traceback"]
    assert sorted(res["results"]["run"].unique()) == [0, 1, 2, 3]
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "incomplete"
    assert [f["index"] for f in man["failed_runs"]] == [4, 5]
    assert [r["status"] for r in man["runs"]] == ["done"] * 4 + ["failed"] * 2


def test_cli_names_failed_runs_and_exits_nonzero(tmp_path):
    out = tmp_path / "f"
    cmd = [sys.executable, "-m", "govsim", "sweep", "baseline", "--grid", "adoption.p=0.05,0.01", "--steps", "3",
           "--set", "citizens.n=300", "--model", "test_experiments_support:FailingModel", "--workers", "1",
           "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "1 of 2 runs failed: 0 " in proc.stderr and "RuntimeError" in proc.stderr
    assert (out / "parts" / "series" / "run-000001.parquet").exists()
    assert (out / "errors" / "run-000000.json").exists()


# -- bad specs ------------------------------------------------------------------------------------
BAD = [
    (["sa", "baseline", "--param", "adoption.pp=0:0.1", "--output", "adoption_rate"], "did you mean 'adoption.p'"),
    (["sa", "baseline", "--param", "adoption.p=0.1:0.05", "--output", "adoption_rate"], "must be < high"),
    (["sa", "baseline", "--param", "adoption.p=0.1:0.1", "--output", "adoption_rate"], "must be < high"),
    (["sa", "baseline", "--param", "adoption.p=0.01:0.1", "--output", "final:adopton_rate"], "unknown output"),
    (["sa", "baseline", "--param", "adoption.p=0.01:2", "--output", "adoption_rate"], "outside the allowed range"),
    (["sa", "baseline", "--param", "adoption.rule=0:1", "--output", "adoption_rate"], "cannot be analysed"),
    (["sa", "baseline", "--param", "adoption.p=0.01:0.1", "--output", "adoption_rate", "--n", "100"],
     "power of 2"),
    (["sa", "baseline", "--method", "sobel", "--param", "adoption.p=0:0.1", "--output", "adoption_rate"],
     "invalid choice"),
    (["sweep", "baseline", "--grid", "adoption.qq=0.1,0.2"], "did you mean 'adoption.q'"),
    (["sweep", "baseline", "--grid", "adoption.p=0.1", "--output", "mean:adoption_rate:5:500"], "outside"),
    (["sweep", "baseline", "--samples", "no-such-file.csv"], "not found"),
    (["replicate", "baseline", "--reps", "0"], "--reps must be >= 1"),
    (["replicate", "baseline", "--set", "citizens.nn=5"], "did you mean 'citizens.n'"),
    (["replicate", "baseline", "--output", "first_step:adoption_rate>=x"], "first_step"),
    (["replicate", "baseline", "--workers", "0"], "--workers must be >= 1"),
    (["replicate", "baseline", "--dask-local", "0"], "--dask-local must be >= 1"),
    (["replicate", "baseline", "--seed", "-1"], "--seed must be >= 0"),
    (["replicate", "baseline", "--scheduler", "localhost"], "tcp://HOST:PORT"),
    (["replicate", "no-such-scenario"], "no scenario named"),
    (["sweep", "baseline", "--grid", "adoption.p=0.1", "--reps", "0"], "--reps must be >= 1"),
    (["sa", "baseline", "--param", "adoption.p=0.01:0.1", "--output", "adoption_rate", "--reps", "0"],
     "--reps must be >= 1"),
    (["sa", "baseline", "--param", "adoption.p=0.01:0.1", "--output", "first_step:adoptionrate>=0.5"],
     "did you mean 'adoption_rate'"),
    (["sa", "baseline", "--method", "fast", "--param", "adoption.p=0.01:0.1", "--output", "adoption_rate", "--n",
      "10"], "fast needs N > 4·M²"),
    (["sa", "baseline", "--param", "adoption.p=0.01:0.1", "--param", "adoption.p=0.02:0.1", "--output",
      "adoption_rate"], "given twice"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[f"{a[0]}-{i}" for i, (a, _) in enumerate(BAD)])
def test_bad_specs_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    where = [] if {"--workers", "--dask-local", "--scheduler"} & set(argv) else ["--workers", "1"]
    rc = main([*argv, "--out", str(out), *where])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("govsim: error:"), err
    assert message in lines[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bad_samples_files_exit_2_and_write_nothing(tmp_path, capsys, fmt):
    files = tmp_path / "in"
    files.mkdir()
    cases = {"unknown": ({"adoption.p": [0.1], "adoption.pq": [0.2]}, "did you mean 'adoption.q'"),
             "range": ({"adoption.p": [0.1, 1.5]}, "samples row 2"),
             "empty": ({"adoption.p": [0.1, None], "awareness.q": [0.1, 0.2]}, "empty value")}
    for name, (data, message) in cases.items():
        path = files / f"{name}.{fmt}"
        df = pd.DataFrame(data)
        df.to_csv(path, index=False) if fmt == "csv" else df.to_parquet(path)
        out = tmp_path / "out"
        assert main(["sweep", "baseline", "--samples", str(path), "--workers", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (name, err)
        assert not out.exists()


def test_different_spec_into_same_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "exp"
    base = ["replicate", "baseline", "--reps", "2", "--steps", "3", "--set", "citizens.n=300", "--workers", "1",
            "--quiet", "--out", str(out)]
    assert main(base) == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    capsys.readouterr()
    assert main([*base[:-2], "--seed", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a different experiment" in err[0] and "seed differs" in err[0]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    # the same command again is a no-op resume
    assert main(base) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["resumes"] == 1 and man["counts"]["done"] == 2


# -- resume after SIGKILL ------------------------------------------------------------------------------
def _snapshot(folder):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("run-*.parquet")}


def test_sigkill_then_rerun_resumes_without_recomputing(tmp_path):
    reps = 40
    args = ["replicate", "baseline", "--reps", str(reps), "--steps", "20", "--set", "citizens.n=2000", "--seed",
            "5", "--workers", "2", "--quiet"]
    victim = tmp_path / "victim"
    cmd = [sys.executable, "-m", "govsim", *args, "--out", str(victim)]
    proc = subprocess.Popen(cmd, env=_env(), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    parts = victim / "parts" / "series"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if parts.is_dir() and len(list(parts.glob("run-*.parquet"))) >= 4:
                break
            if proc.poll() is not None:
                pytest.fail(f"the experiment ended before it could be killed: {proc.stderr.read()}")
            time.sleep(0.005)
        else:
            pytest.fail("no run was stored within 120 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    time.sleep(0.3)  # let the killed workers' file handles go
    stored = _snapshot(parts)
    assert 4 <= len(stored) < reps, "killed too late to test resuming"
    assert not (victim / "results.parquet").exists()

    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = _snapshot(parts)
    assert len(after) == reps
    for name, ident in stored.items():
        assert after[name] == ident, f"{name} was recomputed"
    man = json.loads((victim / "manifest.json").read_text())
    assert man["status"] == "complete" and man["resumes"] >= 1
    assert man["session"]["computed"] == reps - len(stored)
    assert [r["status"] for r in man["runs"]] == ["done"] * reps

    ref = tmp_path / "ref"
    assert main([*args[:-3], "--workers", "1", "--quiet", "--out", str(ref)]) == 0  # uninterrupted, serial
    for name in ("results", "bands", "summary"):
        assert (victim / f"{name}.parquet").read_bytes() == (ref / f"{name}.parquet").read_bytes(), name
    res = pd.read_parquet(victim / "results.parquet")
    assert res["run"].tolist() == sorted(res["run"].tolist())
    assert res.groupby("run").size().eq(21).all() and res["run"].nunique() == reps


# -- sensitivity analysis on plain functions ------------------------------------------------------
def test_ishigami_sobol_matches_analytic_indices():
    res = ex.sensitivity(support.ishigami, [("x1", -PI, PI), ("x2", -PI, PI), ("x3", -PI, PI)], n=1024,
                         second_order=False, seed=1, progress=False)
    ind = res["indices"].set_index(["parameter", "index"])
    truth = support.ishigami_indices()
    for kind in ("S1", "ST"):
        for p, v in truth[kind].items():
            got = float(ind.loc[(p, kind), "value"])
            assert abs(got - v) < 0.05, (p, kind, got, v)
    # deterministic function: the dummy is exactly zero, x3 alone has no first-order effect
    assert float(ind.loc[("dummy", "ST"), "value"]) == 0.0
    assert not bool(ind.loc[("x3", "S1"), "above_floor"])
    assert bool(ind.loc[("x3", "ST"), "above_floor"])
    assert (ind["conf"].drop(index="dummy", level=0) > 0).all()


def test_noise_floor_flags_indices_made_of_noise():
    res = ex.sensitivity(support.noisy_linear, ["x1=0:1", "x2=0:1"], n=512, second_order=False, seed=2,
                         progress=False)
    ind = res["indices"].set_index(["parameter", "index"])
    # pure noise inflates every total index: x2 does nothing yet looks important...
    assert float(ind.loc[("x2", "ST"), "value"]) > 0.3
    # ...which the floor exposes
    assert not bool(ind.loc[("x2", "ST"), "above_floor"])
    assert not bool(ind.loc[("x2", "S1"), "above_floor"])
    assert bool(ind.loc[("x1", "ST"), "above_floor"]) and bool(ind.loc[("x1", "S1"), "above_floor"])
    floor = float(ind.loc[("x2", "ST"), "floor"])
    dummy = ind.loc[("dummy", "ST")]
    assert floor == pytest.approx(float(dummy["value"] + dummy["conf"]))


def test_replicates_reduce_noise_and_report_noise_share():
    res = ex.sensitivity(support.noisy_linear, ["x1=0:1", "x2=0:1"], n=256, reps=4, second_order=False, seed=3,
                         progress=False)
    noise = res["noise"].iloc[0]
    assert noise["reps"] == 4
    # expected: (0.25 / 4) / (1/12 + 0.25 / 4) = 0.43; it is the dummy's total index
    assert 0.3 < noise["noise_share"] < 0.56
    assert abs(noise["noise_share"] - noise["dummy_ST"]) < 0.12
    sc = res["scalars"]
    assert len(sc) == res.spec.n_runs == 256 * 5 * 4
    assert sc.groupby("point")["seed"].nunique().eq(4).all()


def test_morris_and_fast_on_functions():
    morris = ex.sensitivity(support.ishigami, [("x1", -PI, PI), ("x2", -PI, PI), ("x3", -PI, PI)],
                            method="morris", n=60, seed=4, progress=False)
    mu = morris["indices"].query("index == 'mu_star'").set_index("parameter")
    assert mu.loc["dummy", "value"] == 0.0
    assert mu.loc["x1", "value"] > 1 and mu.loc["x2", "value"] > 1
    assert bool(mu.loc["x1", "above_floor"])
    fast = ex.sensitivity(support.ishigami, [("x1", -PI, PI), ("x2", -PI, PI), ("x3", -PI, PI)],
                          method="fast", n=1000, seed=5, progress=False)
    s1 = fast["indices"].query("index == 'S1'").set_index("parameter")["value"]
    truth = support.ishigami_indices()["S1"]
    assert abs(s1["x1"] - truth["x1"]) < 0.05 and abs(s1["x2"] - truth["x2"]) < 0.05


def test_sa_design_is_seeded_and_integer_params_rounded():
    a = ex.sa_spec("baseline", ["citizens.n=200:400", "adoption.p=0.01:0.05"], ["adoption_rate"], n=8, seed=1,
                   steps=3)
    b = ex.sa_spec("baseline", ["citizens.n=200:400", "adoption.p=0.01:0.05"], ["adoption_rate"], n=8, seed=1,
                   steps=3)
    c = ex.sa_spec("baseline", ["citizens.n=200:400", "adoption.p=0.01:0.05"], ["adoption_rate"], n=8, seed=2,
                   steps=3)
    assert a.hash == b.hash != c.hash
    assert a.n_points == 8 * (2 * 3 + 2)
    ns = [p["citizens.n"] for p in a.points]
    assert all(isinstance(v, int) and 200 <= v <= 400 for v in ns)
    assert len(set(ns)) > 10


# -- sensitivity analysis of the model, through the CLI -------------------------------------------
def test_cli_sa_writes_indices_and_figures(tmp_path, capsys):
    out = tmp_path / "sa"
    rc = main(["sa", "baseline", "--param", "awareness.p=0.001:0.05", "--param", "adoption.q=0.1:0.6",
               "--output", "final:aware_rate", "--output", "mean:adoption_rate:1:4", "--n", "8", "--steps", "4",
               "--set", "citizens.n=200", "--no-second-order", "--workers", "1", "--quiet", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    ind = pd.read_parquet(out / "indices.parquet")
    assert set(ind["output"]) == {"final:aware_rate", "mean:adoption_rate:1:4"}
    assert set(ind["parameter"]) == {"awareness.p", "adoption.q", "dummy"}
    assert {"floor", "above_floor", "conf"} <= set(ind.columns)
    assert (out / "sobol_final_aware_rate.png").stat().st_size > 1000
    design = pd.read_parquet(out / "design.parquet")
    assert len(design) == 8 * 5 and "dummy" in design
    scal = pd.read_parquet(out / "scalars.parquet")
    assert len(scal) == 40 and scal["run"].tolist() == list(range(40))
    man = json.loads((out / "manifest.json").read_text())
    assert man["spec"]["sa"]["method"] == "sobol" and man["versions"]["SALib"] != "not installed"
    assert "noise floor" in capsys.readouterr().out


def test_sa_first_step_and_window_outputs_of_the_model(tmp_path, capsys):
    out = tmp_path / "fs"
    specs = ["first_step:adoption_rate>=0.3", "mean:adoption_rate:2:4", "first_step:adoption_rate:0.99"]
    argv = ["sa", "baseline", "--param", "awareness.p=0.001:0.05", "--param", "adoption.q=0.1:0.6", "--n", "4",
            "--steps", "6", "--reps", "2", "--set", "citizens.n=200", "--no-second-order", "--series",
            "--workers", "1", "--quiet", "--out", str(out)]
    for o in specs:
        argv += ["--output", o]
    assert main(argv) == 0, capsys.readouterr().err
    scal = pd.read_parquet(out / "scalars.parquet").set_index("run")
    series = pd.read_parquet(out / "results.parquet")
    assert len(scal) == 4 * (3 + 2) * 2 and series["run"].nunique() == len(scal)
    first, mean, never = [], [], []
    for run, df in series.groupby("run"):
        x = df["adoption_rate"].to_numpy()
        hit = np.flatnonzero(x >= 0.3)
        first.append(float(df["step"].iloc[hit[0]]) if hit.size else 7.0)
        mean.append(float(x[2:5].mean()))
        never.append(scal.loc[run, "first_step:adoption_rate>=0.99"])
    np.testing.assert_array_equal(scal["first_step:adoption_rate>=0.3"].to_numpy(), first)
    np.testing.assert_allclose(scal["mean:adoption_rate:2:4"].to_numpy(), mean, rtol=1e-12)
    assert set(first) - {0.0, 7.0}, "the level should be reached mid-run by some runs"
    assert set(never) == {7.0}  # never reached: censored at steps + 1
    ind = pd.read_parquet(out / "indices.parquet")
    assert list(dict.fromkeys(ind["output"])) == [*specs[:2], "first_step:adoption_rate>=0.99"]


def test_cli_morris_and_replicate_figures(tmp_path, capsys):
    out = tmp_path / "m"
    rc = main(["sa", "baseline", "--method", "morris", "--param", "awareness.p=0.001:0.05", "--param",
               "adoption.q=0.1:0.6", "--output", "aware_rate", "--n", "4", "--steps", "3", "--set",
               "citizens.n=200", "--workers", "1", "--quiet", "--out", str(out)])
    assert rc == 0
    assert (out / "morris_final_aware_rate.png").exists()
    rep = tmp_path / "r"
    assert main(["replicate", "baseline", "--reps", "3", "--steps", "3", "--set", "citizens.n=200", "--workers", "1",
                 "--quiet", "--out", str(rep)]) == 0
    assert (rep / "bands.png").exists() and (rep / "bands.csv").exists()
    assert "final adoption_rate" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_sweep_from_samples_file(tmp_path, fmt):
    samples = tmp_path / f"design.{fmt}"
    table = pd.DataFrame({"adoption.p": [0.01, 0.05, 0.03], "awareness.q": [0.1, 0.5, 0.3]})
    table.to_csv(samples, index=False) if fmt == "csv" else table.to_parquet(samples)
    out = tmp_path / "sw"
    assert main(["sweep", "baseline", "--samples", str(samples), "--reps", "2", "--steps", "3", "--set",
                 "citizens.n=200", "--workers", "1", "--quiet", "--out", str(out)]) == 0
    design = pd.read_parquet(out / "design.parquet")
    assert design["adoption.p"].tolist() == [0.01, 0.05, 0.03]
    bands = pd.read_parquet(out / "bands.parquet")
    assert sorted(bands["point"].unique()) == [0, 1, 2] and (bands["n"] == 2).all()
    assert (out / "sweep.png").exists()
    # each row's values were run: the results of point 1 are those of a direct run with its overrides
    res = pd.read_parquet(out / "results.parquet")
    mine = res[res["run"] == 2]  # point 1, replicate 0
    sc = govsim.load_scenario("baseline", {"citizens.n": 200, "adoption.p": 0.05, "awareness.q": 0.5})
    direct = govsim.GovModel(sc, rng=run_seed(0, 2)).run(3)
    pd.testing.assert_frame_equal(mine[direct.columns].reset_index(drop=True), direct, check_exact=True)


# -- Dask --------------------------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_DASK_PIDS: list[int] = []  # processes of the dask_cluster fixture (scheduler, worker)


def _listening(pids):
    """(pid, ip, port) of every listening TCP socket of ``pids`` and their children."""
    psutil = pytest.importorskip("psutil")
    found = []
    for pid in pids:
        top = psutil.Process(pid)
        for p in [top, *top.children(recursive=True)]:
            try:
                conns = p.net_connections(kind="inet") if hasattr(p, "net_connections") else p.connections("inet")
            except psutil.Error:
                continue
            found += [(p.pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    return found


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    tmp_path = tmp_path_factory.mktemp("dask")
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    dask = Path(sys.executable).parent / "dask"
    base = [str(dask)] if dask.exists() else [sys.executable, "-m", "dask"]
    logs = [open(tmp_path / "scheduler.log", "w"), open(tmp_path / "worker.log", "w")]
    procs = [subprocess.Popen([*base, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                               "--dashboard-address", "127.0.0.1:0"],
                              env=_env(), stdout=logs[0], stderr=subprocess.STDOUT, start_new_session=True)]
    try:
        time.sleep(0.5)
        # --no-dashboard alone still starts each worker's HTTP server on 0.0.0.0:
        # --dashboard-address keeps it on loopback too
        procs.append(subprocess.Popen([*base, "worker", addr, "--nworkers", "2", "--nthreads", "1", "--host",
                                       "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"],
                                      env=_env(), stdout=logs[1], stderr=subprocess.STDOUT, start_new_session=True))
        from distributed import Client

        with Client(addr, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
            listening = {w.split("://")[1].rsplit(":", 1)[0] for w in client.scheduler_info()["workers"]}
            assert listening == {"127.0.0.1"}
        _DASK_PIDS[:] = [p.pid for p in procs]
        yield addr
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for fh in logs:
            fh.close()


@pytest.mark.dask
def test_dask_cluster_gives_identical_tables(tmp_path, dask_cluster):
    _sweep(tmp_path / "serial", workers=1)
    rc = main(["sweep", "baseline", "--grid", "adoption.p=0.01,0.05", "--reps", "3", "--steps", "5", "--seed", "3",
               "--set", "citizens.n=300", "--output", "mean:adoption_rate:1:5", "--scheduler", dask_cluster,
               "--quiet", "--out", str(tmp_path / "dask")])
    assert rc == 0
    for name in ("results", "bands", "summary", "scalars", "design"):
        assert (tmp_path / "serial" / f"{name}.parquet").read_bytes() == \
            (tmp_path / "dask" / f"{name}.parquet").read_bytes(), name
    man = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert man["executor"]["executor"] == "dask" and man["executor"]["workers"] == 2


@pytest.mark.dask
def test_dask_cluster_of_the_docs_listens_on_loopback_only(dask_cluster):
    socks = _listening(_DASK_PIDS)
    # scheduler (comm + HTTP), and for each of the 2 workers: nanny, worker comm, worker HTTP
    assert len(socks) >= 2 + 2 * 3, socks
    assert {ip for _, ip, _ in socks} == {"127.0.0.1"}, socks


@pytest.mark.dask
def test_dask_local_cluster_listens_on_loopback_only():
    pytest.importorskip("distributed")
    from govsim.experiments.executors import DaskExecutor

    before = {(ip, port) for _, ip, port in _listening([os.getpid()])}
    with DaskExecutor(local_workers=2) as dx:
        assert dx.client.submit(sum, [1, 2]).result() == 3
        socks = [s for s in _listening([os.getpid()]) if (s[1], s[2]) not in before]
    # scheduler comm and HTTP server in this process, nanny and worker comm per worker
    assert len(socks) >= 2 + 2 * 2, socks
    assert {ip for _, ip, _ in socks} == {"127.0.0.1"}, socks


@pytest.mark.dask
def test_dask_worker_death_is_retried(tmp_path, dask_cluster):
    from govsim.experiments.executors import DaskExecutor

    kw = dict(reps=6, steps=10, overrides={"citizens.n": 1000}, progress=False)
    ref = ex.replicate("baseline", workers=1, **kw)
    killed = []
    with DaskExecutor(scheduler=dask_cluster) as dx:
        pids = sorted(dx.worker_pids().values())

        def kill_one(done, total):
            if done == 1 and not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        res = ex.replicate("baseline", executor=dx, out=tmp_path / "x", **{**kw, "progress": kill_one})
    assert killed and res.ok and res.counts["done"] == 6
    pd.testing.assert_frame_equal(res["results"], ref["results"], check_exact=True)


@pytest.mark.dask
def test_dask_local_cluster_option(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "dl"
    assert main(["replicate", "baseline", "--reps", "2", "--steps", "3", "--set", "citizens.n=200", "--dask-local",
                 "1", "--quiet", "--out", str(out)]) == 0
    ref = ex.replicate("baseline", reps=2, steps=3, overrides={"citizens.n": 200}, workers=1, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), ref["results"], check_exact=True)


def test_functions_named_like_their_submodules_stay_functions():
    code = ("import govsim.experiments.replicate, govsim.experiments.sweep, govsim.experiments.sa\n"
            "from govsim.experiments.replicate import replicate_spec\n"
            "from govsim.cli import main\n"
            "from govsim import experiments as ex\n"
            "assert callable(ex.replicate) and callable(ex.sweep) and callable(ex.sensitivity), "
            "(ex.replicate, ex.sweep)\n"
            "from govsim.experiments import replicate, sweep\n"
            "assert callable(replicate) and callable(sweep)\n")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_serial_executor_is_default_for_one_worker():
    assert isinstance(ex.make_executor(workers=1), SerialExecutor)


@pytest.mark.parametrize("argv", [["--help"], ["replicate", "--help"], ["sweep", "--help"], ["sa", "--help"]])
def test_help_of_every_command_renders(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: govsim" in out and ("sa" in out or "replicate" in out)
    if argv[0] != "--help":
        for opt in ("--out", "--workers", "--scheduler", "--dask-local", "--seed", "--reps", "--set", "--steps"):
            assert opt in out, opt
        assert "examples:" in out and f"govsim {argv[0]} baseline" in out and "Exit status" in out


def test_docs_function_example_runs(capsys):
    import re

    text = (HERE.parent / "docs" / "experiments.md").read_text()
    section = text.split("## 5. Plain Python functions", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    exec(compile(code.replace("n=1024", "n=256"), "experiments.md", "exec"), {})
    out = capsys.readouterr().out
    assert "x1" in out and "ST" in out and "dummy" in out
    for name in ("experiments-bands.png", "experiments-sweep.png", "experiments-morris.png", "experiments-sobol.png"):
        img = HERE.parent / "docs" / "img" / name
        assert f"img/{name}" in text and 1000 < img.stat().st_size < 200_000


def _run_with_stderr_on_a_terminal(cmd, size=None, timeout=120):
    """Run ``cmd`` with stderr on a pseudo-terminal (``size`` = (rows, cols), default unset: 0 × 0).

    Returns (exit status, what it wrote there).
    """
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    if size is not None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        rc = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return rc, b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("size", [(30, 100), None], ids=["30x100", "unsized"])
def test_cli_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_pipe(tmp_path, size):
    args = [sys.executable, "-m", "govsim", "replicate", "baseline", "--reps", "3", "--steps", "2", "--set",
            "citizens.n=200", "--workers", "1"]
    rc, tty = _run_with_stderr_on_a_terminal([*args, "--out", str(tmp_path / "tty")], size=size)
    assert rc == 0, tty
    assert "\r" in tty and "3/3" in tty and "run/s" in tty and "100%|" in tty, tty
    assert "<" in tty.split("3/3")[-1]  # tqdm's [elapsed<ETA, rate]
    if size is not None:
        assert all(len(line) <= size[1] for line in tty.replace("\r\n", "\n").replace("\r", "\n").splitlines())
    pipe = subprocess.run([*args, "--out", str(tmp_path / "pipe")], env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert pipe.returncode == 0, pipe.stderr
    lines = pipe.stderr.strip().splitlines()
    assert "\r" not in pipe.stderr and "run/s" not in pipe.stderr
    assert lines[0] == "replicate baseline: 3 runs"
    assert lines[-1].startswith("replicate baseline: 3/3 runs (100%)") and lines[-1].endswith("ETA 0s")


def test_progress_bar_on_terminal_and_lines_otherwise():
    import io

    from govsim.experiments.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    p = Progress(4, initial=1, label="demo", stream=tty)
    for ok in (True, False, True):
        p.update(ok)
    p.close()
    assert "4/4" in tty.getvalue() and "run/s" in tty.getvalue() and "failed=1" in tty.getvalue()
    plain = io.StringIO()
    p = Progress(4, initial=1, label="demo", stream=plain, interval=0)
    for ok in (True, False, True):
        p.update(ok)
    p.close()
    lines = plain.getvalue().splitlines()
    assert lines[0] == "demo: 4 runs (1 already done)"
    assert lines[-1].startswith("demo: 4/4 runs (100%), 1 failed") and "ETA 0s" in lines[-1]
    assert "\r" not in plain.getvalue()


# -- the tutorial's console snippets are what the commands print -----------------------------------
def _console_examples(text):
    """(command, documented output lines) of every ``$ govsim`` command in the console blocks.

    A console block with no command that directly follows one (only blank lines
    between them) holds the output of that block's last command.
    """
    import re

    examples, last_end = [], None
    for m in re.finditer(r"```console\n(.*?)```", text, flags=re.S):
        lines = m.group(1).splitlines()
        if not any(line.startswith("$ ") for line in lines):
            if examples and last_end is not None and not text[last_end:m.start()].strip():
                examples[-1][1].extend(lines)
            last_end = m.end()
            continue
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                cmd = line[2:]
                while cmd.endswith("\\"):
                    i += 1
                    cmd = cmd[:-1] + " " + lines[i].strip()
                examples.append((cmd, []))
            elif examples:
                examples[-1][1].append(line)
            i += 1
        last_end = m.end()
    return [(c, out) for c, out in examples if c.startswith("govsim ")]


def _shape(line):
    """A printed line with its numbers (and above-floor marks) abstracted away."""
    import re

    line = re.sub(r"-?\d+(\.\d+)?", "#", line.replace(" *", " "))
    line = re.sub(r"#(s|min|h)\b", "#s", line)  # durations: 11s, 1.6min, 2.0h
    return " ".join(line.split())


def test_docs_console_snippets_match_what_the_commands_print(tmp_path, monkeypatch, capsys):
    import re
    import shlex

    text = (HERE.parent / "docs" / "experiments.md").read_text()
    examples = [(c, out) for c, out in _console_examples(text) if out and "..." not in c]
    assert len(examples) >= 5, examples  # replicate, sweep, morris, sobol, an error
    monkeypatch.chdir(tmp_path)
    small = {"--reps": "2", "--steps": "4", "--n": "4"}
    for cmd, documented in examples:
        argv = shlex.split(cmd)[1:]
        for i, a in enumerate(argv[:-1]):
            if a in small:
                argv[i + 1] = small[a]
            elif a == "--set" and argv[i + 1].startswith("citizens.n="):
                argv[i + 1] = "citizens.n=200"
            elif a == "--output":
                argv[i + 1] = re.sub(r":(\d+):(\d+)$", ":1:4", argv[i + 1])
        rc = main([*argv, "--workers", "1"])
        out = capsys.readouterr()
        printed = {_shape(line) for line in (out.out + out.err).splitlines()}
        assert rc == (2 if "error" in "".join(documented) else 0), (cmd, out.err)
        for line in documented:
            if line.strip() and line.strip() != "...":
                assert _shape(line) in printed, f"{cmd}\n  documented: {line}\n  printed:\n" + \
                    "\n".join(sorted(printed))


def test_scalar_only_job_collects_only_what_its_outputs_read():
    """A job that keeps no series (sa) collects just the columns of its outputs, with the same values."""
    from govsim.experiments.jobs import ModelJob
    from govsim.experiments.outputs import parse_outputs
    from govsim.experiments.spec import Task

    sc = govsim.load_scenario("baseline", {"citizens.n": 600})
    outs = parse_outputs(["final:adoption_rate", "mean:exclusion_rate"], steps=6)
    lean = ModelJob(sc, 6, [], outputs=outs, series=False, encode=False)
    assert lean.scenario["scenario.outputs"] == "adoption_rate,exclusion_rate"
    full = ModelJob(sc, 6, [], outputs=outs, series=True, encode=False)
    task = Task(0, 0, 0, 11, {})
    a, b = lean(task)["scalars"], full(task)["scalars"]
    pd.testing.assert_frame_equal(a, b)
