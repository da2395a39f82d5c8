"""The committed full-profile results store: the chapter re-rendered from it (computing nothing) writes the committed
metrics file, and one cheap stored unit per chapter recomputed from scratch matches its record."""
import json, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "results" / "full" / "units"
UNIT_CHAPTERS = ["gtmaloc", "lm", "utr_stcnet"]    # chapters whose full protocol is stored as units
PLMF_STORED = any((STORE / "plmf_mda").glob("*.json"))   # PLMF-MDA's full protocol is being stored unit by unit
if PLMF_STORED: UNIT_CHAPTERS.append("plmf_mda")
TABLES = {"gtmaloc": ["gtmaloc.ablations.csv"]}   # per chapter: results files rebuilt from the store on every render
ATOL = 1e-4                          # largest |recomputed - stored| allowed for a metric (AUC, AUPR) of a recomputed unit


def _stored(chapter):
    from rna_papers.core.units import UnitStore
    from rna_papers.runner import UNIT_MODULES
    import importlib
    units = importlib.import_module(UNIT_MODULES[chapter]).units("full")
    st = UnitStore(STORE)
    return units, [u for u in units if st.get(u) is not None]


@pytest.mark.parametrize("chapter", UNIT_CHAPTERS)
def test_cached_only_reproduces_the_committed_metrics(chapter, tmp_path):
    committed = ROOT / "results" / "full" / f"{chapter}.metrics.json"
    units, stored = _stored(chapter)
    from_store = "missing_units" in json.loads(committed.read_text())     # written from the store (not an older run)
    if not from_store:
        assert chapter != "plmf_mda", "results/full/plmf_mda.metrics.json must be written from the store by --cached-only"
        pytest.skip(f"results/full/{chapter}.metrics.json predates the results store")
    assert json.loads(committed.read_text())["missing_units"] == len(units) - len(stored), "store and metrics file disagree"
    r = subprocess.run(["rna-papers", "run", chapter, "--profile", "full", "--device", "cpu", "--cached-only",
                        "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / f"{chapter}.metrics.json").read_text()) == json.loads(committed.read_text())
    for table in TABLES.get(chapter, []):                                  # tables the chapter writes from the store
        assert (tmp_path / table).read_text() == (ROOT / "results" / "full" / table).read_text(), f"{table} differs"


@pytest.mark.parametrize("chapter", UNIT_CHAPTERS)
def test_one_stored_unit_recomputes_to_its_record(chapter):
    "The cheapest stored CPU unit that has metrics is run again from scratch on the CPU and compared metric by metric (ATOL)."
    from rna_papers.core.units import UnitStore, spot_check
    units, stored = _stored(chapter)
    st = UnitStore(STORE)
    cands = [u for u in stored if st.get(u)["metrics"] and st.get(u)["device"] == "cpu"]   # GPU kernels differ: like with like
    if not cands: pytest.skip(f"no {chapter} unit computed on a CPU is stored yet")
    u = min(cands, key=lambda u: st.get(u)["seconds"])
    bad = {k: v for k, v in spot_check(u, st, atol=ATOL).items() if not v[2]}
    assert not bad, f"{u.label}: {bad}"
