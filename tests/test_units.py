"Experiment units: resume, failure, two runs racing on one store, and a run against a Dask scheduler and worker started as separate processes."
import json, os, socket, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest

from rna_papers.core.units import RunReport, UnitStore, UnitsFailed, make_unit, run_units, unit_key

FN = "rna_papers.core.units:demo_unit"


def _units(n_folds=4, **settings):
    return [make_unit("demo", "cv", FN, settings, seed=s, fold=f) for s in range(2) for f in range(n_folds)]


def test_resume_after_interruption(tmp_path):
    "A first run that stored only part of the units is completed by a second one, which recomputes nothing stored."
    units = _units(no_fail=True)
    first = run_units(units[:3], tmp_path, workers=0)
    assert len(first.computed) == 3
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "demo").glob("*.json")}
    second = run_units(units, tmp_path, workers=0)
    assert (len(second.cached), len(second.computed), second.missing) == (3, 5, [])
    assert all((tmp_path / "demo" / n).stat().st_mtime_ns == t for n, t in before.items())  # untouched


def test_failure_is_recorded_and_named(tmp_path):
    rep = run_units(_units(), tmp_path, workers=0)
    assert len(rep.failed) == 2 and len(rep.computed) == 6
    with pytest.raises(UnitsFailed, match=r"demo/cv/seed0/fold3 \(RuntimeError: demo failure on fold 3\)"):
        rep.raise_for_failures()
    fails = UnitStore(tmp_path).failures("demo")
    assert len(fails) == 2 and "Traceback" in fails[0]["traceback"]
    # the failed units are retried by the next run (here they fail again) and never count as stored
    again = run_units(_units(), tmp_path, workers=0)
    assert len(again.cached) == 6 and len(again.failed) == 2


def test_cached_only_computes_nothing(tmp_path):
    rep = run_units(_units(no_fail=True), tmp_path, cached_only=True)
    assert rep.computed == [] and len(rep.missing) == 8 and not (tmp_path / "demo").exists()


_RACE = """
import sys
from rna_papers.core.units import make_unit, run_units
units = [make_unit("demo", "cv", "rna_papers.core.units:demo_unit", {"no_fail": True, "sleep": 0.05}, seed=s, fold=f)
         for s in range(3) for f in range(5)]
rep = run_units(units, sys.argv[1], workers=0, recompute=True)
print(len(rep.computed))
"""


def test_two_runs_on_one_store_corrupt_nothing(tmp_path):
    "Two processes compute and write the same 15 units at the same time: every record is whole and readable."
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and outs == ["15", "15"]
    units = [make_unit("demo", "cv", FN, {"no_fail": True, "sleep": 0.05}, seed=s, fold=f) for s in range(3) for f in range(5)]
    st = UnitStore(tmp_path)
    for u in units:
        rec = st.get(u)
        assert rec is not None and rec["status"] == "ok" and rec["key"] == unit_key(u)
        assert st.arrays(rec, "demo")["x"].shape == (4,)
    assert not list(tmp_path.rglob("*.part"))


_FIT = """
import sys
from rna_papers.core.units import make_unit, run_units
u = make_unit("demo", "fit", "rna_papers.core.units:demo_fit_unit", {"epochs": 8, "sleep": 1.0}, seed=0)
run_units([u], sys.argv[1], workers=0)
"""


def test_a_killed_unit_resumes_its_fit(tmp_path):
    "A unit killed (SIGKILL) mid-fit resumes from its last checkpoint and stores exactly what a run never stopped stores."
    u = make_unit("demo", "fit", "rna_papers.core.units:demo_fit_unit", {"epochs": 8, "sleep": 1.0}, seed=0)
    ck = tmp_path / "a" / ".partial" / "demo" / unit_key(u) / "fit-0.pt"
    p = subprocess.Popen([sys.executable, "-c", _FIT, str(tmp_path / "a")], env={**os.environ, "RNA_PAPERS_CHECKPOINT_EVERY": "0"})
    t0 = time.time()
    while not ck.exists() and p.poll() is None and time.time() - t0 < 120: time.sleep(0.2)
    time.sleep(1.5); p.kill(); p.wait()                        # killed in epoch 2 or 3 of 8
    assert ck.exists() and UnitStore(tmp_path / "a").get(u) is None
    resumed = run_units([u], tmp_path / "a", workers=0); fresh = run_units([u], tmp_path / "b", workers=0)
    (ra,), (rb,) = resumed.records.values(), fresh.records.values()
    assert ra["resumed_fits"] == 1 and "resumed_fits" not in rb and ra["epochs"] == rb["epochs"] == 8
    assert ra["metrics"] == rb["metrics"] and ra["seconds"] >= rb["seconds"] - 1     # counts the killed run's epochs too
    np.testing.assert_array_equal(resumed.arrays(u)["w"], fresh.arrays(u)["w"])
    assert not (tmp_path / "a" / ".partial" / "demo" / unit_key(u)).exists()       # removed once stored


def test_a_bad_checkpoint_setting_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RNA_PAPERS_CHECKPOINT_EVERY", "1m")
    with pytest.raises(ValueError, match="RNA_PAPERS_CHECKPOINT_EVERY must be a number of seconds >= 0, not '1m'"):
        run_units(_units(no_fail=True), tmp_path, workers=0)
    assert not (tmp_path / "demo").exists()                    # raised before anything ran


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def test_against_a_scheduler_and_worker_started_by_hand(tmp_path):
    "`dask scheduler` and `dask worker` as separate processes on localhost, as a user would start them."
    port = _free_port(); addr = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    sched = subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    worker = subprocess.Popen(["dask", "worker", addr, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        units = _units(n_folds=3, no_fail=True)
        deadline = time.time() + 60
        while True:
            try: rep = run_units(units, tmp_path, scheduler=addr); break
            except ValueError:
                if time.time() > deadline: raise
                time.sleep(1)
        assert len(rep.computed) == 6 and not rep.failed
        pids = {rep.records[unit_key(u)]["info"]["pid"] for u in units}
        assert os.getpid() not in pids and len(pids) == 1          # all ran in the hand-started worker
        assert run_units(units, tmp_path, scheduler=addr).cached.__len__() == 6
    finally:
        for p in (worker, sched): p.terminate()
        for p in (worker, sched): p.wait(timeout=30)


def test_dependencies_run_after_and_failures_block(tmp_path):
    "A unit that needs another runs in a later wave; one whose dependency failed is reported as blocked, not run."
    from rna_papers.core.units import unit_key
    base = make_unit("demo", "cv", FN, {}, seed=0, fold=0)
    bad = make_unit("demo", "cv", FN, {}, seed=0, fold=3)                    # demo_unit raises on fold 3
    after = make_unit("demo", "eval", FN, {"no_fail": True}, seed=0, fold=1, needs=(unit_key(base),))
    blocked = make_unit("demo", "eval", FN, {"no_fail": True}, seed=0, fold=2, needs=(unit_key(bad),))
    rep = run_units([after, blocked, base, bad], tmp_path, workers=2)        # one cluster for both waves
    assert set(rep.computed) == {unit_key(base), unit_key(after)} and list(rep.failed) == [unit_key(bad)]
    assert rep.missing == ["demo/eval/seed0/fold2 (blocked: a unit it needs failed)"]
