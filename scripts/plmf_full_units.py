"""PLMF-MDA full-profile cross-validation as independent units, run in parallel and resumable.

One unit is one (method, dataset, seed, fold) of the chapter's 5-fold protocol (`cv_table`; full profile:
80 epochs, batch 32; `--profile smoke` only checks the script). Units run in worker processes (on one GPU they
share the card); each finished unit is appended as one row to `--out` at once, and units already in `--out` or
`--done` are skipped, so a run cut short by a time limit loses only the units in flight. The chapter shows the
rows of a recorded run (`results/full/plmf_mda.cv_units.csv`).

Usage: python scripts/plmf_full_units.py --plans main,simple,graphdta,ablations,token --workers 8 --device cuda \
           --out results/full/plmf_mda.cv_units.csv [--done OTHER.csv] [--stop-after 480] [--metrics results/full]
Plans: main = PLMF-MDA, MDR and MDS, seeds 0-2; on the same folds, graphdta = the GraphDTA-style baseline and
simple = gradient boosting on k-mers + Morgan fingerprints and the degree baseline (CPU, minutes);
ablations = fig. 4 variants, seed 0; token = the token-level fusion, seed 0.
"""
import argparse, time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

PLANS = ("main", "graphdta", "simple", "ablations", "token")


def plan_units(plans: list[str], profile: str = "full") -> list[tuple]:
    "(method, dataset, seed, fold) units of the named plans, in the order given."
    from rna_papers.plmf_mda import ABLATIONS, PROFILES
    prof, units = PROFILES[profile], []
    for plan in plans:
        if plan not in PLANS: raise ValueError(f"unknown plan {plan!r}; choose from {PLANS}")
        methods = {"main": ["PLMF-MDA"], "graphdta": ["GraphDTA-style"], "simple": ["GBM", "Degree"],
                   "ablations": [m for m in ABLATIONS if m != "PLMF-MDA"], "token": ["token-level"]}[plan]
        seeds = prof.seeds if plan in ("main", "graphdta", "simple") else (0,)
        units += [(m, n, s, f) for s in seeds for n in ("MDR", "MDS") for m in methods for f in range(prof.folds)]
    return units


_STATE = {}

def _features(name: str, fusion: str, device: str):
    "Featurise one dataset (stand-in LM embeddings come from the cache after the first call)."
    from rna_papers.plmf_mda import ModelConfig, PLMFMDA, load_mirna_drug
    d = load_mirna_drug(name)
    f = PLMFMDA(ModelConfig(fusion=fusion), device).featurise(d.mirnas.sequence.tolist(), d.drugs.smiles.tolist(),
                                                               d.mirnas.name.tolist())
    return d, f

def _init_worker(device: str, profile: str):
    import torch
    torch.set_num_threads(1)
    _STATE.update(device=device, profile=profile)

def run_unit(unit: tuple) -> dict:
    "Train and score one unit in a worker; returns its result row."
    from rna_papers.plmf_mda import PROFILES, cv_table
    method, name, seed, fold = unit
    fusion = "token" if method == "token-level" else "vector"
    if (name, fusion) not in _STATE: _STATE[name, fusion] = _features(name, fusion, _STATE["device"])
    d, f = _STATE[name, fusion]
    prof = PROFILES[_STATE["profile"]]
    epochs = prof.num_epochs if method == "PLMF-MDA" else (prof.baseline_epochs if method == "GraphDTA-style" else prof.side_epochs)
    row = cv_table(method, d, f, prof, seed, _STATE["device"], folds=[fold], num_epochs=epochs).iloc[0].to_dict()
    return dict(row, epochs=epochs if method not in ("GBM", "Degree") else 0, profile=_STATE["profile"],
                device=_STATE["device"])


def write_metrics(units_csv: str, out_dir: str) -> None:
    "`plmf_mda.metrics.json` of a recorded run (the chapter's headline keys) once every main unit is in `units_csv`."
    from rna_papers.core.profiles import save_metrics
    from rna_papers.plmf_mda import THRESHOLDS, summarise
    df = pd.read_csv(units_csv)
    main_units = set(plan_units(["main"]))
    have = {(r.method, r.dataset, int(r.seed), int(r.fold)) for r in df.itertuples()}
    if not main_units <= have:
        print(f"metrics not written: {len(main_units - have)} main units missing"); return
    t = summarise(df)
    m = {f"{n.lower()}_{k}": float(t.loc[(n, "PLMF-MDA"), k]) for n in ("MDR", "MDS") for k in ("auc", "aupr", "auc_sd", "aupr_sd")}
    for n in ("MDR", "MDS"):
        for meth, key in [("GBM", "gbm"), ("Degree", "degree"), ("GraphDTA-style", "graphdta")]:
            if (n, meth) in t.index and t.loc[(n, meth), "folds"] == len(main_units) // 2:
                m[f"{n.lower()}_{key}_auc"] = float(t.loc[(n, meth), "auc"])
    m.update(num_seeds=int(df[df.method == "PLMF-MDA"].seed.nunique()), folds=5)
    devices = "+".join(sorted(df.device.unique()))
    path = save_metrics("plmf_mda", m, profile="full", device=devices, seconds=float(df.seconds.sum()),
                        out_dir=out_dir, thresholds=THRESHOLDS["full"])
    print(f"metrics: {path} (seconds = sum over units, which ran in parallel)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plans", default="main"); p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu"); p.add_argument("--out", required=True)
    p.add_argument("--profile", default="full", choices=("smoke", "full"), help="smoke: a quick check of the script")
    p.add_argument("--done", default=None, help="CSV of units finished earlier (skipped)")
    p.add_argument("--metrics", default=None, help="folder for plmf_mda.metrics.json once the main units are all done")
    p.add_argument("--stop-after", type=float, default=float("inf"), help="start no unit after this many seconds of the pool")
    a = p.parse_args()
    t0 = time.time()
    units = plan_units(a.plans.split(","), a.profile)
    key = lambda r: (r["method"], r["dataset"], int(r["seed"]), int(r["fold"]))
    done = set()
    for path in [a.out, a.done]:
        if path and Path(path).exists(): done |= {key(r) for r in pd.read_csv(path).to_dict("records")}
    todo = [u for u in units if u not in done]
    print(f"{len(units)} units, {len(units) - len(todo)} done before, {len(todo)} to run on {a.workers} workers ({a.device})",
          flush=True)
    for name in ("MDR", "MDS"):                      # fill the embedding cache once, before the workers read it
        for fusion in sorted({"token" if u[0] == "token-level" else "vector" for u in todo if u[1] == name}):
            _features(name, fusion, a.device)
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(a.workers, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(a.device, a.profile)) as ex:
        queue, running, n_done, t_pool = list(todo), {}, 0, time.time()
        while queue or running:
            while queue and len(running) < a.workers and time.time() - t_pool < a.stop_after:
                u = queue.pop(0); running[ex.submit(run_unit, u)] = u
            if not running: break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                u = running.pop(fut); row = fut.result(); n_done += 1
                pd.DataFrame([row]).to_csv(out, mode="a", header=not out.exists(), index=False)
                print(f"[{time.time() - t0:6.0f}s] {n_done}/{len(todo)} {u}: auc {row['auc']:.4f} aupr {row['aupr']:.4f} "
                      f"({row['seconds']:.0f}s)", flush=True)
        if queue: print(f"stopped after {a.stop_after:.0f}s with {len(queue)} units not started", flush=True)
    if a.metrics and out.exists(): write_metrics(a.out, a.metrics)


if __name__ == "__main__":
    main()
