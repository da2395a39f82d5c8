"UTR-STCNet package: input checks, padding invariance, save/load, predict_mrl, CLI and its bad inputs, shipped-model checks, layout, GEO loader and splits, the protocol as units, near-duplicates."
import dataclasses, json, re, shutil, subprocess, sys, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rna_papers.core.data import DATA_DIR, DataIntegrityError, verify_dataset, write_manifest
from rna_papers.core.inputs import InputWarning
from rna_papers import utr_stcnet as U

FIX = Path(__file__).parent / "fixtures" / "utr_stcnet"
HAS_MODEL = (DATA_DIR / U.MODEL_NAME / "MANIFEST.tsv").exists()
needs_model = pytest.mark.skipif(not HAS_MODEL, reason="no shipped model in data/models/utr_stcnet")


@pytest.mark.parametrize("seqs, msg", [
    (["ACGT", "ACXT"], "sequence 1"),
    (["ACGT", ""], "sequence 1 is empty"),
    (["A" * 1001], "sequence 0 has 1001 nt"),
    (["ACGT", "AC GT"], "sequence 1"),
    (["ACGT", 5], "sequence 1 is not a string"),
    ("ACGT", "list of sequences"),
])
def test_bad_inputs(seqs, msg):
    with pytest.raises(ValueError, match=msg): U.check_sequences(seqs, 1000)


def test_rna_and_dna_letters_agree():
    assert U.check_sequences(["acgu", "ACGT"]) == ["ACGT", "ACGT"]


@pytest.mark.parametrize("kw", [{}, {"use_satc": False}, {"use_sga": False}, {"use_satc": False, "use_sga": False}])
def test_padding_invariance(kw):
    torch.manual_seed(0)
    net = U.UTRSTCNet(U.STCNetConfig(d_model=16, heads=2, **kw)).eval()
    seqs = ["ACGTTGCAATGGCATTGACCA", "CCATGG", "GATTACA"]
    x, m = U.encode_batch(seqs)
    with torch.no_grad():
        batched = net(x, m)
        for i, s in enumerate(seqs):
            xs, ms = U.encode_batch([s])
            torch.testing.assert_close(batched[i], net(xs, ms)[0], atol=1e-5, rtol=1e-4)


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), rng.integers(20, 40))) for _ in range(32)]
    y = np.array([5.0 - s.count("ATG") for s in seqs])
    for kind in ("stcnet", "framepool", "optimus"):
        kw = {"d_model": 16, "heads": 2} if kind == "stcnet" else {}
        m = U.MRLRegressor(kind, ("h",), **kw)
        m.fit(seqs, y, val=(seqs[:8], y[:8]), num_epochs=1, batch_size=16, verbose=False)
        m2 = U.MRLRegressor.load(m.save(tmp_path / kind))
        np.testing.assert_allclose(m2.predict(seqs[:5]), m.predict(seqs[:5]), rtol=1e-5, atol=1e-5)


def test_mpra_data_manifest():
    verify_dataset("mpra")
    h = U.load_mpra("h")
    assert len(h) == 25000 and {"utr", "rl", "reads", "mttrans_pred"} <= set(h.columns)
    _, sp = U.mpra_splits("h", 0)
    assert len(sp["test"]) == 7600 and sp["test"].max() == 7599
    assert set(sp["train"]).isdisjoint(sp["val"]) and min(sp["train"].min(), sp["val"].min()) == 7600


def test_geo_loader_and_splits():
    d = U.read_geo_csv(FIX / "geo_designed_synthetic.csv")
    assert d.attrs["kind"] == "designed" and {"utr", "rl", "reads", "library", "len"} <= set(d.columns)
    sp = U.split_mpra_h(d, n_test=5)
    hum = d[d.library.isin(["human_utrs", "snv"])]
    assert len(sp["test"]) == 5 and len(sp["test"]) + len(sp["trainval"]) == len(hum)
    assert d.loc[sp["test"], "reads"].min() >= d.loc[sp["trainval"], "reads"].max()
    u = U.read_geo_csv(FIX / "geo_unmod1_synthetic.csv")
    spu = U.split_mpra_u(u, n_test=10, n_trainval=15)
    assert len(spu["test"]) == 10 and len(spu["trainval"]) == 15
    assert list(spu["test"]) == list(u.sort_values("reads", ascending=False).index[:10])
    v = U.read_geo_csv(FIX / "geo_varying_length_synthetic.csv")
    spv = U.split_mpra_v(v, n_random=2, n_human=1, min_reads=10, lengths=range(25, 28))
    t = v.loc[spv["test"]]
    assert (t.reads >= 10).all() and t.groupby(["set", "len"]).size().max() <= 2
    assert (t[t.set == "human"].groupby("len").size() <= 1).all()
    assert set(spv["test"]).isdisjoint(spv["trainval"])
    with pytest.raises(ValueError, match="missing column"):
        U.read_geo_csv(FIX / "geo_unmod1_synthetic.csv", kind="designed")


@needs_model
def test_predict_mrl():
    y = U.predict_mrl(["GGGACATCGTAGAGAGTCGTACTTA", "GGGACAUCGUAGAGAGUCGUACUUA"])
    assert y.shape == (2,) and np.isfinite(y).all() and abs(y[0] - y[1]) < 1e-6
    with pytest.raises(ValueError, match="sequence 1"): U.predict_mrl(["ACGT", "ACGN"])


@needs_model
def test_cli(capsys, tmp_path):
    assert U.cli(["predict", "--fasta", str(FIX / "utrs_synthetic.fa")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "id\tmrl" and [l.split("\t")[0] for l in lines[1:]] == ["utr_a", "utr_b", "utr_c"]
    bad = tmp_path / "bad.fa"; bad.write_text(">ok\nACGT\n>broken\nACGTX\n")
    with pytest.raises(ValueError, match="broken"): U.cli(["predict", "--fasta", str(bad)])


# ---- issue 13/15: the protocol as experiment units

from rna_papers.core.units import UnitStore, execute_unit, make_unit, run_units, unit_key
from rna_papers.utr_stcnet import units as UU


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_units_unique_and_headline_first(profile):
    us = UU.units(profile)
    assert len({unit_key(u) for u in us}) == len(us)
    cfg = U.PROFILES[profile]
    head = us[:len(cfg.seeds) * (1 + len(cfg.baselines))]
    assert {(u.experiment, u.dataset) for u in head} == {("table1", "h")}                # MPRA-H Table I comes first
    assert [u.params.get("save_model", False) for u in head if u.variant == "stcnet"] == [True] * len(cfg.seeds)
    sel = [u for u in us if u.experiment == "selection"]
    assert sel and all(u.params["select_frac"] > 0 for u in sel)                       # selection never scores test rows
    assert all(not u.params.get("select_frac") for u in us if u.experiment != "selection")


def test_full_units_cover_the_protocol():
    us = UU.units("full")
    have = {(u.experiment, u.dataset, u.variant, u.seed) for u in us}
    seeds = (0, 1, 2)
    want = {("table1", t, k, s) for t in "huv" for k in ("stcnet", "optimus", "framepool") for s in seeds}
    want |= {("selection", "h", d, s) for d in UU.DESIGNS for s in seeds}
    want |= {("ablation", "h", a, s) for a in U.ABLATIONS for s in seeds}
    want |= {("multitask", ts, "stcnet", s) for ts in ("u+v", "u+h+v") for s in seeds}
    want |= {("multitask", "u+h+v", k, s) for k in ("optimus", "framepool") for s in seeds}
    want |= {("lm_frozen", t, "frozen LM + ridge", s) for t in "huv" for s in seeds}
    want |= {("lm_finetune", "h", "fine-tuned LM", s) for s in seeds}
    assert have == want
    stc = [u for u in us if u.params.get("kind") == "stcnet" and u.experiment != "selection"]
    assert {u.params["design"] for u in stc} == {UU.CHOSEN}                  # every one reads the selection when it runs
    sel_keys = tuple(unit_key(u) for u in us if u.experiment == "selection")
    assert {u.needs for u in stc} == {sel_keys} and not any(u.needs for u in us if u not in stc)


def _put(st, u, metrics):
    st.put(u, {"status": "ok", "metrics": metrics, "unit": dataclasses.asdict(u)})


def test_chosen_design_on_selection_records_only(tmp_path):
    from rna_papers.core.units import UnitContext
    st = UnitStore(tmp_path)
    sel = UU.selection_units(U.PROFILES["full"])
    assert UU.chosen_design("full", tmp_path) == {"name": UU.DEFAULT_DESIGN, "final": False, "table": None}
    head = UU.units("full")[0]                                                         # Table I UTR-STCNet, seed 0
    with pytest.raises(ValueError, match="needs its 24 selection units"): UU.resolve_design(head, UnitContext("cpu", str(tmp_path)))
    best = list(UU.DESIGNS)[5]
    for u in sel:             # synthetic records: design 5 best on held-out training rows; its test R² (if any) is never read
        _put(st, u, {"sel_h_r2": 0.7 + 0.05 * (u.variant == best) + 0.001 * u.seed, "val_h_r2": 0.5, "h_r2": -1.0 * (u.variant == best)})
    c = UU.chosen_design("full", tmp_path)
    assert c["final"] and c["name"] == best and c["table"].seeds.tolist() == [3] * len(UU.DESIGNS)
    assert UU.resolve_design(head, UnitContext("cpu", str(tmp_path))) == best           # what the unit trains when it runs
    assert UU.units("smoke")[0].params["design"] == UU.DEFAULT_DESIGN                  # smoke never acts on its selection


def test_chosen_design_unit_trains_the_selected_design(tmp_path):
    "A CHOSEN unit at toy size: runs after its (synthetic) selection records, trains and records the selected design."
    cfg = U.PROFILES["smoke"]; st = UnitStore(tmp_path)
    sel = [make_unit("utr_stcnet", "selection", f"{UU.FN}:train_unit", {"d": d}, dataset="h", variant=d, seed=0)
           for d in (UU.DEFAULT_DESIGN, "1-conv stem, constant LR, patience 5")]
    for u, r2 in zip(sel, (0.5, 0.6)): _put(st, u, {"sel_h_r2": r2, "val_h_r2": r2})
    s = dict(UU.train_settings(cfg, ("h",), "stcnet", UU.CHOSEN, aux=False, heads=2), max_train=64)
    s["net"]["d_model"] = 16; s["fit"]["num_epochs"] = 1
    u = make_unit("utr_stcnet", "table1", f"{UU.FN}:train_unit", s, dataset="h", variant="stcnet", data=("mpra",),
                  needs=tuple(map(unit_key, sel)))
    rep = run_units([u, *sel], tmp_path, workers=0, show_progress=False)          # the stored selection: cached
    rec = rep.records[unit_key(u)]
    assert rec["info"]["design"] == "1-conv stem, constant LR, patience 5" and "h_r2" in rec["metrics"]


def test_near_duplicates_toy():
    nd = U.near_duplicates(["ACGTA", "ACGTT", "TTTTT", "CGTAC", "ACGT", "GGGGGG"], ["ACGTA", "ACGAA", "GGGGG"])
    assert nd.exact.tolist() == [True, False, False, False, False, False]
    assert nd.mismatch1.tolist() == [True, True, False, False, False, False]
    assert nd.indel1.tolist() == [False, False, False, False, True, True]
    assert nd.shift1.tolist() == [False, False, False, True, False, False]
    assert U.near_duplicates([], ["ACGT"]).empty


def test_train_unit_at_toy_size():
    cfg = U.PROFILES["smoke"]
    st = dict(UU.train_settings(cfg, ("h",), "stcnet", UU.DEFAULT_DESIGN, save_model=True, heads=2), max_train=64)
    st["net"]["d_model"] = 16; st["fit"]["num_epochs"] = 1
    u = make_unit("utr_stcnet", "table1", f"{UU.FN}:train_unit", st, dataset="h", variant="stcnet", data=("mpra",))
    r = execute_unit(u)
    assert r["record"]["status"] == "ok", r["record"].get("traceback")
    m = r["record"]["metrics"]
    assert {"h_r2", "h_spearman", "h_rmse", "val_h_r2"} <= set(m) and r["record"]["epochs"] == 1
    assert r["arrays"]["pred_h"].dtype == np.float32 and r["arrays"]["pred_h"].shape == (7600,)
    assert sorted(r["files"]) == ["config.json", "model.safetensors"]
    s2 = dict(st, select_frac=0.1); s2.pop("save_model")
    r2 = execute_unit(make_unit("utr_stcnet", "selection", f"{UU.FN}:train_unit", s2, dataset="h", variant="x", data=("mpra",)))
    m2 = r2["record"]["metrics"]
    assert "sel_h_r2" in m2 and "h_r2" not in m2 and not r2["arrays"]                # no test row scored or stored


def test_tables_and_metrics_from_synthetic_records(tmp_path):
    "Table I / metrics from a synthetic store (not results): mean over seeds, NaN (never absent) where units are missing."
    us = UU.units("full")
    st = UnitStore(tmp_path)
    r2 = {"stcnet": 0.78, "optimus": 0.77, "framepool": 0.79}
    for u in us:
        if u.experiment == "table1" and u.dataset == "h":
            _put(st, u, {"h_r2": r2[u.variant] + 0.001 * u.seed, "h_spearman": 0.8, "h_rmse": 0.5, "h_pearson": 0.9,
                         "val_h_r2": r2[u.variant]})
    rep = run_units(us, st, cached_only=True)
    assert len(rep.missing) == len(us) - 9
    sf = UU.scores_frame(rep, us)
    m = UU.utr_metrics(sf)
    assert m["mpra_h_r2"] == pytest.approx(0.781) and m["mpra_h_r2_sd"] == pytest.approx(0.001)
    assert m["mpra_h_r2_best_cnn"] == pytest.approx(0.791) and m["mpra_h_r2_minus_best_cnn"] == pytest.approx(-0.01)
    assert np.isnan(m["mpra_h_r2_lm_finetuned"]) and np.isnan(m["multitask_uhv_h_r2_cnn"]) and np.isnan(m["mpra_u_r2"])
    t1 = UU.table_i_frame(sf)
    assert t1.loc[("h", "FramePool-style CNN"), "paper_row"] == "Framepooling" and t1.seeds.tolist() == [3, 3, 3]
    assert UU.verdict(0.781, 0.001, 0.791, 0.001) == "lower" and UU.verdict(0.781, 0.01, 0.791, 0.001) == "tie"
    assert UU.verdict(0.816, np.nan, 0.784, 0.002) == "one seed"  # a one-seed side gets no call, however large the gap
    assert UU.verdict(0.816, 0.01, 0.784, 0.002, seeds=2) == "few seeds" and UU.verdict(0.816, 0.01, 0.784, 0.002, seeds=3) == "higher"


def test_results_written_from_the_store_only():
    "results/full/utr_stcnet.* come from `rna-papers run utr --profile full --cached-only`: no hand-made tables."
    from rna_papers.core.data import REPO_ROOT
    rec = REPO_ROOT / "results" / "full"
    assert not (rec / "utr_stcnet.table_i.csv").exists() and not (rec / "utr_stcnet.parts.csv").exists()
    assert not (REPO_ROOT / "scripts" / "utr_full_parts.py").exists()
    f = rec / "utr_stcnet.metrics.json"
    if f.exists():
        m = json.loads(f.read_text())
        assert m["profile"] == "full" and m["missing_units"] == len(UU.units("full")) - sum(
            UnitStore(rec / "units").get(u) is not None for u in UU.units("full"))


# ---- issue 12: package layout, shipped-model mechanism, bad input, usability

PKG = Path(U.__file__).parent
MODEL_DIR = DATA_DIR / "models" / "utr_stcnet"


def test_package_layout_sizes_and_imports():
    "One module per role, none over 400 lines, importing only rna_papers.core (never rna_papers.lm or another paper)."
    mods = sorted(p.name for p in PKG.glob("*.py"))
    assert mods == ["__init__.py", "baselines.py", "cli.py", "data.py", "interpret.py", "model.py", "protocol.py", "shipped.py",
                    "units.py"]
    assert not (PKG.parent / "utr_stcnet.py").exists(), "the old single-file module must not coexist with the package"
    for p in PKG.glob("*.py"):
        src = p.read_text()
        assert len(src.splitlines()) <= 400, f"{p.name}: {len(src.splitlines())} lines"
        rel = re.findall(r"^\s*from (\.\.?[\w.]*) import", src, re.M) + re.findall(r"rna_papers\.(\w+)", src)
        assert not [r for r in rel if r.startswith("..") and not r.startswith("..core")], f"{p.name}: {rel}"
        assert not {"lm", "gtmaloc", "plmf_mda"} & {r.lstrip(".").split(".")[0] for r in rel}, f"{p.name} imports another paper"


def test_lazy_package_does_not_import_torch():
    code = ("import sys, rna_papers.utr_stcnet as U\nassert 'torch' not in sys.modules, 'package import'\n"
            "f = U.cli\nassert callable(f) and 'torch' not in sys.modules, 'cli lookup'\n"
            "try: f(['predict', '--help'])\nexcept SystemExit as e: assert e.code == 0\n"
            "assert 'torch' not in sys.modules, '--help'\nprint('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-500:]
    assert "--model-dir" in r.stdout and "--out" in r.stdout


def test_lazy_surface_and_dir():
    assert U.cli is U.cli and callable(U.cli)          # the function, also after its module was imported
    assert {"predict_mrl", "MRLRegressor", "PROFILES", "plot_logo", "load_mpra", "OptimusCNN"} <= set(dir(U))
    assert "read_fasta" not in dir(U)                   # one FASTA reader: rna_papers.core.inputs.read_fasta
    with pytest.raises(AttributeError, match="no attribute 'nope'"): U.nope


def test_progress_bar_only_past_2000(monkeypatch):
    import rna_papers.utr_stcnet.model as M
    calls = []
    monkeypatch.setattr(M, "progress", lambda it, **kw: calls.append(kw) or it)
    torch.manual_seed(0)
    reg = U.MRLRegressor("stcnet", max_len=20, d_model=16, heads=2)
    for n in (2000, 2001):
        y = reg.predict(["ACGTACGTAC"] * n, batch_size=1024)
        assert y.shape == (n,) and np.allclose(y, y[0], atol=1e-5)
    assert len(calls) == 1


def test_predict_sorts_by_length_and_restores_order():
    torch.manual_seed(0)
    reg = U.MRLRegressor("stcnet", max_len=60, d_model=16, heads=2)
    seqs = ["ACGT" * k for k in (3, 12, 1, 7, 15, 2)]
    one_by_one = np.array([reg.predict([s])[0] for s in seqs])
    np.testing.assert_allclose(reg.predict(seqs, batch_size=2), one_by_one, atol=1e-5)


@needs_model
def test_predict_mrl_empty_input():
    y = U.predict_mrl([])
    assert isinstance(y, np.ndarray) and y.shape == (0,)
    with pytest.raises(ValueError, match="one string"): U.predict_mrl("ACGT")


@needs_model
def test_length_warning_one_per_call():
    lo, hi = json.loads((MODEL_DIR / "config.json").read_text())["length_range"]   # the shipped model's own bounds
    assert 1 < lo < hi
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        y = U.predict_mrl(["A" * (lo // 2), "A" * lo, "C" * (hi + 20), "G" * (lo - 1), "T" * hi, "A" * (lo + 1)])
    assert y.shape == (6,)
    got = [x for x in w if issubclass(x.category, InputWarning)]
    assert len(got) == 1, [str(x.message) for x in w]
    msg = str(got[0].message)
    assert f"outside {lo}–{hi} nt" in msg
    assert f"3 items: sequence 0 ({lo // 2} nt), sequence 2 ({hi + 20} nt), sequence 3 ({lo - 1} nt)" in msg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        U.predict_mrl(["A" * lo, "C" * ((lo + hi) // 2), "G" * hi])     # inside the range: no warning


@needs_model
def test_length_bounds_come_from_the_model_folder(tmp_path):
    d = shutil.copytree(MODEL_DIR, tmp_path / "m")
    cfg = json.loads((d / "config.json").read_text()); cfg["length_range"] = [40, 60]
    (d / "config.json").write_text(json.dumps(cfg, indent=1) + "\n"); write_manifest(d)
    with pytest.warns(InputWarning, match=r"outside 40–60 nt.*sequence 0 \(30 nt\)"):
        U.predict_mrl(["A" * 30, "A" * 50], folder=d)


@needs_model
def test_model_card_is_built_from_config():
    assert U.utr_model_card(U.load_shipped_model()).markdown() == (MODEL_DIR / "MODEL_CARD.md").read_text()
    card, cfg = (MODEL_DIR / "MODEL_CARD.md").read_text(), json.loads((MODEL_DIR / "config.json").read_text())
    tr, sc, sel, (lo, hi) = cfg["training"], cfg["test_scores"], cfg["selection"], cfg["length_range"]
    n = sum(p.numel() for p in U.load_shipped_model().net.parameters())
    for fact in (f"{tr['network']} (rna_papers)", f"{n:,} parameters", f"training rows**: {tr['n_train']}",
                 f"best epoch**: {tr['best_epoch']}", f"r2 {sc['r2']:.3f}", f"spearman {sc['spearman']:.3f}",
                 f"rmse {sc['rmse']:.3f}", f"{sel['val_r2']:.3f} over {sel['seeds']} seeds",
                 f"training mean {cfg['mean'][cfg['tasks'].index('h')]:.3f}", f"outside {lo}–{hi} nt"):
        assert fact in card, fact                            # the facts a reader needs, each from config.json
    assert sel["seeds"] >= sel["min_seeds"] == 3 and tr["network"] == sel["candidates"][0]   # chosen on 3+ seeds


@needs_model
def test_model_folder_flipped_byte_is_an_error(tmp_path):
    d = shutil.copytree(MODEL_DIR, tmp_path / "copy")
    np.testing.assert_allclose(U.predict_mrl(["A" * 50], folder=d), U.predict_mrl(["A" * 50]))  # intact copy: same model
    w = d / "model.safetensors"; b = bytearray(w.read_bytes()); b[len(b) // 2] ^= 0x01; w.write_bytes(bytes(b))
    with pytest.raises(DataIntegrityError, match="checksum mismatch for model.safetensors"):
        U.load_shipped_model(folder=d)
    fa = tmp_path / "u.fa"; fa.write_text(">a\n" + "A" * 50 + "\n")
    with pytest.raises(DataIntegrityError, match="checksum mismatch"):
        U.cli(["predict", "--fasta", str(fa), "--model-dir", str(d)])


@needs_model
def test_save_shipped_model_to_a_folder(tmp_path):
    from types import SimpleNamespace
    from rna_papers.core.shipped import verify_model_dir
    torch.manual_seed(0)
    reg = U.MRLRegressor("stcnet", max_len=40, d_model=16, heads=2)
    seqs = ["ACGTTGCA" * 3, "CCATGGA" * 4]
    reg.fit(seqs * 8, np.arange(16.0), num_epochs=1, batch_size=8, verbose=False)
    run = {"model": reg, "history": SimpleNamespace(best_epoch=1), "n_train": 16, "seconds": 1.2, "scores": {"h": {"r2": 0.1}}}
    card = U.save_shipped_model(run, U.PROFILES["smoke"], "a test", 0, folder=tmp_path / "m")
    verify_model_dir(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["MANIFEST.tsv", "MODEL_CARD.md", "config.json", "model.safetensors"]
    assert "a test" in card.read_text() and "outside 12–56 nt" in card.read_text()   # trained on 24–28 nt
    np.testing.assert_allclose(U.predict_mrl(seqs, folder=tmp_path / "m"), reg.predict(seqs), atol=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_device_checked_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="CUDA is not available"): U.predict_mrl(["A" * 50], device="cuda")
    with pytest.raises(ValueError, match="CUDA is not available"): U.predict_mrl([], device="cuda")
    # the FASTA does not exist: the device error comes first, before the file is read
    with pytest.raises(ValueError, match="CUDA is not available"):
        U.cli(["predict", "--fasta", str(tmp_path / "missing.fa"), "--device", "cuda"])


@needs_model
def test_cli_duplicate_ids_warned_once(tmp_path, capsys):
    fa = tmp_path / "dup.fa"; fa.write_text(">x\n" + "A" * 50 + "\n>x\n" + "C" * 50 + "\n>y\n" + "G" * 50 + "\n")
    with pytest.warns(InputWarning, match="duplicate FASTA IDs.*1 item: x") as w:
        assert U.cli(["predict", "--fasta", str(fa)]) == 0
    assert len([x for x in w if issubclass(x.category, InputWarning)]) == 1
    assert [l.split("\t")[0] for l in capsys.readouterr().out.splitlines()] == ["id", "x", "x", "y"]


@needs_model
def test_cli_out_file_gzip_and_length_warning(tmp_path, capsys):
    import gzip
    fa = tmp_path / "u.fa.gz"
    with gzip.open(fa, "wt") as f: f.write(">short\nACGTACGT\n>ok\n" + "A" * 50 + "\n")
    out = tmp_path / "pred.tsv"
    with pytest.warns(InputWarning, match=r"1 item: short \(8 nt\)"):
        assert U.cli(["predict", "--fasta", str(fa), "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    rows = out.read_text().splitlines()
    assert rows[0] == "id\tmrl" and [r.split("\t")[0] for r in rows[1:]] == ["short", "ok"]
    assert float(rows[2].split("\t")[1]) == pytest.approx(U.predict_mrl(["A" * 50])[0], abs=1e-4)


def _bad_cli_cases(tmp):
    fa = tmp / "ok.fa"; fa.write_text(">a\n" + "A" * 50 + "\n")
    (tmp / "empty").mkdir(); (tmp / "notfasta.fa").write_text("ACGT\n")
    return {
        "missing --fasta": (["predict"], ValueError, "--fasta"),
        "no command": ([], ValueError, "required"),
        "missing file": (["predict", "--fasta", str(tmp / "nope.fa")], ValueError, "nope.fa"),
        "directory as fasta": (["predict", "--fasta", str(tmp)], ValueError, "directory"),
        "not fasta": (["predict", "--fasta", str(tmp / "notfasta.fa")], ValueError, "not FASTA"),
        "unknown device": (["predict", "--fasta", str(fa), "--device", "tpu"], ValueError, "unknown device"),
        "missing model dir": (["predict", "--fasta", str(fa), "--model-dir", str(tmp / "nomodel")], ValueError, "nomodel"),
        "model dir without manifest": (["predict", "--fasta", str(fa), "--model-dir", str(tmp / "empty")], DataIntegrityError, "MANIFEST"),
        "out is a directory": (["predict", "--fasta", str(fa), "--out", str(tmp)], ValueError, "Is a directory"),
        "out in a missing folder": (["predict", "--fasta", str(fa), "--out", str(tmp / "no" / "x.tsv")], ValueError, "No such directory"),
    }


@needs_model
@pytest.mark.parametrize("case", [
    "missing --fasta", "no command", "missing file", "directory as fasta", "not fasta", "unknown device",
    "missing model dir", "model dir without manifest", "out is a directory", "out in a missing folder"])
def test_cli_bad_input_one_line(case, tmp_path):
    argv, exc, msg = _bad_cli_cases(tmp_path)[case]
    with pytest.raises(exc) as e: U.cli(argv)
    line = str(e.value)
    assert msg in line and "\n" not in line and "Traceback" not in line


def test_validated_networks_choose_on_validation_rows_only():
    from rna_papers.utr_stcnet import units as UU
    spec = [("table1", "h", "framepool", 0.78, 0.79, 3), ("table1", "h", "stcnet", 0.76, 0.99, 3),
            ("ablation", "h", "w/o SGA", 0.90, 0.50, 1), ("multitask", "u+h+v", "optimus", 0.77, 0.80, 3)]
    sf = pd.DataFrame([dict(experiment=e, tasks=t, variant=v, seed=s, task="h", r2=r2 + 0.001 * s, val_r2=val + 0.001 * s,
                            spearman=np.nan, rmse=np.nan, key=f"{v}{s}") for e, t, v, val, r2, n in spec for s in range(n)])
    t = UU.validated_networks(sf)
    assert t.index[0] == "FramePool-style CNN"              # best validation R², not best test R² (UTR-STCNet's 0.99)
    assert t.index.tolist()[1:3] == ["Optimus-style CNN, trained on U+H+V", "UTR-STCNet (ours)"]
    assert not t.loc["UTR-STCNet w/o SGA", "eligible"] and t.index[-1] == "UTR-STCNet w/o SGA"  # one seed: listed, not chosen
    assert t.loc["FramePool-style CNN", "r2_mean"] == pytest.approx(0.791) and t.seeds.tolist() == [3, 3, 3, 1]


def test_predict_mrl_reads_the_mpra_h_head_of_a_multitask_model(tmp_path):
    from types import SimpleNamespace
    torch.manual_seed(0)
    reg = U.MRLRegressor("framepool", tasks=("u", "h"))
    reg.mean, reg.std = np.array([1.0, 5.0]), np.array([1.0, 2.0])
    run = {"model": reg, "history": SimpleNamespace(best_epoch=1), "n_train": 16, "seconds": 1.0, "scores": {"h": {"r2": 0.1}}}
    U.save_shipped_model(run, U.PROFILES["smoke"], "a test", 0, folder=tmp_path / "m", network="toy multi-task",
                         selection={"val_r2": 0.5, "seeds": 3, "min_seeds": 3, "candidates": ["a", "b"], "ahead_with_fewer_seeds": ["c"]})
    seqs = ["ACGTACGTAC", "GGATCCATGG"]
    np.testing.assert_allclose(U.predict_mrl(seqs, folder=tmp_path / "m"), reg.predict(seqs, task="h"), atol=1e-5)
    assert not np.allclose(reg.predict(seqs, task="h"), reg.predict(seqs, task="u"))
    card = (tmp_path / "m" / "MODEL_CARD.md").read_text()
    assert card.startswith("# toy multi-task (rna_papers)") and "MPRA-U + MPRA-H" in card and "0.500 over 3 seeds" in card
    assert "at least 3 seeds stored when it was made (a, b)" in card and "fewer seeds so far: c;" in card
