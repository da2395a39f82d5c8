"""Ship the best validated MPRA-H network of the UTR-STCNet chapter as data/models/utr_stcnet/.

The chapter's `full` profile ranks every network it trains on MPRA-H (Table I, Table II, multi-task) by
the mean R² on validation rows carved from the training rows (`validated_networks`; at least three seeds
stored). This script reads that ranking from the results store, retrains the chosen network's seed-0
unit with that unit's own settings and library calls (`unit_run`), checks that its test R² matches the
stored record (within 1e-4 when both ran on a CPU; it stops without writing anything otherwise), and writes
the weights, config.json, model card and manifest. Test rows choose nothing. The retraining checkpoints into
`<store>/.partial/shipped/` as units do: killed, it resumes from there when run again (removed once written).

    RNA_PAPERS_TORCH_THREADS=1 python scripts/train_utr_shipped.py [--device cpu] [--dry-run]
"""
import argparse, os, shutil
from pathlib import Path
import torch
from rna_papers.core.train import checkpointing
from rna_papers.core.profiles import get_device
from rna_papers.core.units import UnitContext, checkpoint_every, code_sha256, default_store, run_units, unit_key
from rna_papers.utr_stcnet.protocol import PROFILES
from rna_papers.utr_stcnet.shipped import save_shipped_model
from rna_papers.utr_stcnet.units import scores_frame, unit_run, units, validated_networks

SEED, PROFILE, MIN_SEEDS, TOL = 0, "full", 3, 1e-4

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dry-run", action="store_true", help="print the ranking and the choice; train nothing")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("RNA_PAPERS_TORCH_THREADS", 2)))
    us = units(PROFILE)
    store = default_store(PROFILE)
    report = run_units(us, store, cached_only=True)
    ranking = validated_networks(scores_frame(report, us), "h", MIN_SEEDS)
    print(ranking.drop(columns=["experiment", "tasks", "variant"]).round(4).to_string())
    ok = ranking[ranking.eligible]
    if not len(ok): raise SystemExit("no network has three seeds stored in the results store yet: nothing to ship")
    name, row = ok.index[0], ok.iloc[0]
    u = next(u for u in us if (u.experiment, u.dataset, u.variant, u.seed) == (row.experiment, row.tasks, row.variant, SEED))
    stored = report.records[unit_key(u)]
    print(f"chosen on validation rows: {name} ({u.label}); stored seed-{SEED} test R² {stored['metrics']['h_r2']:.4f}")
    if args.dry_run: return
    device = get_device(args.device)
    part = Path(store) / ".partial" / "shipped" / u.chapter / unit_key(u)   # not the unit's own: a stored unit's is removed
    with checkpointing(part, checkpoint_every(), f"{code_sha256(u.fn)} {device} torch {torch.__version__}") as ck:
        run = unit_run(u, UnitContext(str(device), str(store)), verbose=True)
    if ck["resumed"]: print(f"resumed {ck['resumed']} fit(s) from {part.relative_to(Path(store).parent)}")
    got, want = run["scores"]["h"]["r2"], stored["metrics"]["h_r2"]
    print(f"retrained: test R² {got:.6f} (stored record: {want:.6f}, computed on {stored['device']})")
    if abs(got - want) > TOL and str(device) == "cpu" == stored["device"]:
        raise SystemExit(f"retrained test R² {got:.6f} differs from the stored record's {want:.6f} by more than {TOL}: nothing written")
    ahead = ranking[~ranking.eligible & (ranking.val_r2_mean > row.val_r2_mean)]
    sel = {"val_r2": round(float(row.val_r2_mean), 4), "seeds": int(row.seeds), "min_seeds": MIN_SEEDS,
           "candidates": ok.index.tolist(), "ahead_with_fewer_seeds": ahead.index.tolist()}
    card = save_shipped_model(run, PROFILES[PROFILE], f"seed-{SEED} unit {u.label} retrained by "
                              f"scripts/train_utr_shipped.py on {device}", SEED, network=name, selection=sel)
    shutil.rmtree(part, ignore_errors=True)
    print("wrote", card)

if __name__ == "__main__":
    main()
