"""UTR-STCNet full-profile experiments (Table II ablations, multi-task) as parallel processes.

Each experiment is one `run_experiment` call with the chapter's full-profile settings (`PROFILES["full"]`,
seed 0), run in its own process (on one GPU the processes share the card), and each finished experiment is
appended to `--out` at once: one row per (experiment, test task) with R², Spearman, RMSE, epochs and seconds.

Usage: python scripts/utr_full_parts.py --device cuda --out results/full/utr_stcnet.parts.csv
       [--experiments ablation,multitask] [--profile smoke --max-train 500]   (the last two only check the script)
       [--metrics results/full]   (then utr_stcnet.metrics.json from that folder's Table I and --out's rows, once all
                                   are in; --experiments "" writes only the metrics)
"""
import argparse, time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from rna_papers.utr_stcnet.protocol import ABLATIONS, MULTITASK_SETS

ABLATION = {"UTR-STCNet": {}, **ABLATIONS}                             # the full model is retrained beside its ablations
MULTITASK = {"+".join(t).upper(): t for t in MULTITASK_SETS}


def experiments(groups: list[str]) -> list[tuple]:
    "(group, name, tasks, net switches) of the named groups."
    out = []
    for g in groups:
        if g == "ablation": out += [(g, n, ("h",), kw) for n, kw in ABLATION.items()]
        elif g == "multitask": out += [(g, n, t, {}) for n, t in MULTITASK.items()]
        else: raise ValueError(f"unknown experiment group {g!r}; choose from ablation, multitask")
    return out


def run_one(exp: tuple, device: str, profile: str, max_train: int|None) -> list[dict]:
    "Train one experiment in a worker; one result row per test task."
    import torch
    from rna_papers.utr_stcnet.protocol import PROFILES, run_experiment
    torch.set_num_threads(1)
    group, name, tasks, kw = exp
    cfg = PROFILES[profile]
    r = run_experiment(tasks, "stcnet", **cfg.fit_kwargs(), seed=0, device=device, d_model=cfg.d_model,
                       max_train=max_train, verbose=False, **kw)
    return [dict(group=group, experiment=name, task=t, **{k: r["scores"][t][k] for k in ("r2", "spearman", "rmse")},
                 epochs=len(r["history"].rows), best_epoch=r["history"].best_epoch, n_train=r["n_train"],
                 seconds=round(r["seconds"], 1), device=device, profile=profile) for t in tasks]


def write_metrics(parts_csv: str, out_dir: str, table_i_device: str) -> None:
    "`utr_stcnet.metrics.json` of a recorded run: `out_dir`'s Table I plus every ablation and multi-task row."
    from rna_papers.core.profiles import save_metrics
    from rna_papers.utr_stcnet.protocol import THRESHOLDS, utr_metrics
    parts, table_i_csv = pd.read_csv(parts_csv), Path(out_dir) / "utr_stcnet.table_i.csv"
    missing = {e[1] for e in experiments(["ablation", "multitask"])} - set(parts.experiment)
    if missing or not table_i_csv.exists():
        print(f"metrics not written: missing {sorted(missing) or table_i_csv}"); return
    m = utr_metrics(pd.read_csv(table_i_csv, index_col=[0, 1]), parts)
    devices = "+".join(sorted(set(parts.device) | {table_i_device}))
    path = save_metrics("utr_stcnet", m, profile="full", device=devices, seconds=float(parts.drop_duplicates("experiment").seconds.sum()),
                        out_dir=out_dir, thresholds=THRESHOLDS["full"])
    print(f"metrics: {path} (seconds = sum over these experiments; the Table I run is not included)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--experiments", default="ablation,multitask"); p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True); p.add_argument("--workers", type=int, default=6)
    p.add_argument("--profile", default="full", choices=("smoke", "full"))
    p.add_argument("--max-train", type=int, default=None, help="cap on training rows (script checks only)")
    p.add_argument("--metrics", default=None, help="folder holding utr_stcnet.table_i.csv; writes the metrics file there")
    p.add_argument("--table-i-device", default="cpu", help="device the Table I run used (for the metrics file)")
    a = p.parse_args()
    todo, out, t0 = experiments([g for g in a.experiments.split(",") if g]), Path(a.out), time.time()
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(todo)} experiments on {a.workers} workers ({a.device}, profile {a.profile})", flush=True)
    with ProcessPoolExecutor(a.workers, mp_context=get_context("spawn")) as ex:
        running = {ex.submit(run_one, e, a.device, a.profile, a.max_train): e for e in todo}
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                e, rows = running.pop(fut), fut.result()
                pd.DataFrame(rows).to_csv(out, mode="a", header=not out.exists(), index=False)
                print(f"[{time.time() - t0:6.0f}s] {e[0]} {e[1]}: " + ", ".join(
                    f"{r['task']} R2 {r['r2']:.3f}" for r in rows) + f" ({rows[0]['epochs']} epochs, {rows[0]['seconds']:.0f}s)", flush=True)
    if a.metrics: write_metrics(a.out, a.metrics, a.table_i_device)


if __name__ == "__main__":
    main()
