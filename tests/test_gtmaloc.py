"GTMALoc chapter: shipped data/model manifests, bad inputs, tiny-graph checks, save/load, fixed seeds, CLI, package layout."
import re, shutil, subprocess, sys, warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from rna_papers.core.data import DATA_DIR, DataIntegrityError, verify_dataset
from rna_papers.core.inputs import InputWarning
from rna_papers import gtmaloc as G
from rna_papers.gtmaloc.cli import cli

ROOT = Path(__file__).resolve().parents[1]
HAS_MODEL = (DATA_DIR / "models" / "gtmaloc" / "MANIFEST.tsv").exists()
needs_model = pytest.mark.skipif(not HAS_MODEL, reason="no shipped model in data/models/gtmaloc")
PKG = ROOT / "rna_papers" / "gtmaloc"
MODEL_DIR = DATA_DIR / "models" / "gtmaloc"


def test_data_manifest_and_counts():
    folder = verify_dataset("mirna_loc")
    assert (folder / "PROVENANCE.md").exists()
    d = G.load_gtmaloc_data()
    assert len(d.ids) == 1041 and d.has_label.sum() == 901 and tuple(d.Y.sum(0)) == G.CLASS_SUMS
    S = np.load(folder / "seq_sim_sw.npz")
    assert S["S"].shape == (1041, 1041) and S["has_sequence"].sum() == 1020


@needs_model
def test_model_manifest():
    folder = verify_dataset("models/gtmaloc")
    assert (folder / "MODEL_CARD.md").exists()


@needs_model
@pytest.mark.parametrize("name, close", [("hsa-mir-99999", "close IDs"), ("hsa-mir-21a", "hsa-mir-21"),
                                         ("not-a-mirna", "unknown miRNA 'not-a-mirna'")])
def test_unknown_mirna_is_one_line_error(name, close):
    with pytest.raises(ValueError, match=close) as e: G.predict_mirna(name)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("raw, norm", [("hsa-mir-21", "hsa-mir-21"), ("miR-21", "hsa-mir-21"),
                                       ("hsa-miR-122-5p", "hsa-mir-122"), (" HSA-LET-7A ", "hsa-let-7a")])
def test_normalise_id(raw, norm):
    assert G.normalise_mirna_id(raw) == norm


def test_sequence_similarity_by_hand():
    S = G.sequence_similarity([["ACGUACGU"], ["ACGUACGU", "GGGG"], []], num_workers=1)
    assert np.allclose(S[:2, :2], 1) and S[2].sum() == 0 and np.allclose(S, S.T)


def test_misim_gip_by_hand():
    SS = np.array([[1.0, 0.5], [0.5, 1.0]])
    F = G.misim(np.array([[1, 0], [0, 1]]), SS)
    assert np.isclose(F[0, 1], 0.5) and np.isclose(F[0, 0], 1.0)
    K = G.gip_kernel(np.array([[1, 0], [1, 0], [0, 1]]))
    assert np.allclose(K[0], [1, 1, np.exp(-2)])


def test_node2vec_fixed_seed():
    ring = np.roll(np.eye(8), 1, 1); ring = ring + ring.T
    a = G.node2vec(ring, dim=4, num_walks=3, walk_length=6, seed=3)
    b = G.node2vec(ring, dim=4, num_walks=3, walk_length=6, seed=3)
    assert a.shape == (8, 4) and np.array_equal(a, b)


def test_graph_transformer_tiny_graph():
    torch.manual_seed(0)
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    z, losses = G.train_graph_transformer(np.random.default_rng(0).normal(size=(4, 5)), ei, num_epochs=3, seed=0)
    z2, _ = G.train_graph_transformer(np.random.default_rng(0).normal(size=(4, 5)), ei, num_epochs=3, seed=0)
    assert z.shape == (4, 128) and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5) and len(losses) == 3
    # negative sampling draws from torch's global generator, seeded by train_graph_transformer
    assert np.allclose(z, z2, atol=1e-6)


def test_fusion_concat_attention_is_trivial():
    net = G.CrossModalAttentionFusion([2, 3, 4, 5], d=8, heads=2, mode="concat").eval()
    net(torch.randn(3, 14))
    assert torch.equal(net.attn_weights, torch.ones(3, 1, 1))
    tok = G.CrossModalAttentionFusion([2, 3, 4, 5], d=8, heads=2).eval()
    assert tok(torch.randn(3, 14)).shape == (3, 7) and tok.attn_weights.shape == (3, 4, 4)


def test_classifier_save_load_round_trip_and_seed(tmp_path):
    rng = np.random.default_rng(0); X = rng.normal(size=(40, 9)).astype(np.float32)
    Y = (rng.random((40, 7)) < 0.5).astype(np.float32)
    kw = dict(d=8, heads=2, num_epochs=2, seed=5)
    m = G.GTMALocClassifier([4, 5], **kw).fit(X, Y)
    back = G.GTMALocClassifier.load(m.save(tmp_path / "m"))
    assert np.allclose(back.predict_proba(X), m.predict_proba(X), atol=1e-6)
    assert np.allclose(G.GTMALocClassifier([4, 5], **kw).fit(X, Y).predict_proba(X), m.predict_proba(X), atol=1e-6)


@needs_model
def test_cli_predict_in_process(capsys):
    assert G.cli(["predict", "--mirna", "hsa-mir-21"]) == 0 and G.cli is cli
    out = capsys.readouterr().out
    assert "hsa-mir-21" in out and all(c in out for c in G.CLASSES)


@needs_model
def test_cli_console_script_unknown_id_exits_nonzero():
    "One subprocess through the lead's dispatcher (the good path is tested in-process above)."
    code = "import sys; from rna_papers.cli import main; sys.exit(main())"
    bad = subprocess.run([sys.executable, "-c", code, "gtmaloc", "predict", "--mirna", "hsa-mir-2l"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode != 0 and "unknown miRNA 'hsa-mir-2l'" in bad.stderr
    assert "close IDs" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# ---- package layout (issue 12) ---------------------------------------------------------------------------------
def test_package_layout_and_sizes():
    assert not (ROOT / "rna_papers" / "gtmaloc.py").exists(), "the old single-file module must not coexist with the package"
    mods = {p.name: len(p.read_text().splitlines()) for p in PKG.glob("*.py")}
    assert {"__init__.py", "data.py", "network.py", "model.py", "protocol.py", "shipped.py", "cli.py"} <= set(mods)
    assert all(n <= 400 for n in mods.values()), mods
    for p in PKG.glob("*.py"):                       # each cell exported once (a lost header notebook makes nbdev append again)
        marks = re.findall(r"^# %% (.+)$", p.read_text(), re.M)
        assert len(marks) == len(set(marks)), f"{p.name}: cells exported more than once"
    assert len(list((ROOT / "nbs" / "modules").glob("09_gtmaloc_*.ipynb"))) == len(mods)   # one header notebook per module


def test_package_imports_only_core_and_itself():
    for p in PKG.glob("*.py"):
        src = p.read_text()
        assert not re.search(r"rna_papers\.lm\b|from \.\.lm\b|from \.\. import lm\b", src), f"{p.name} imports rna_papers.lm"
        assert not re.search(r"\b(plmf_mda|utr_stcnet)\b", src), f"{p.name} imports another paper"
        rel = re.findall(r"^from (\.+)(\w*)", src, re.M)
        assert all(dots == "." or mod == "core" for dots, mod in rel), f"{p.name}: {rel}"
        assert not re.search(r"torch\.load\(|import pickle|pickle\.loads?\(|allow_pickle=True", src), f"{p.name} may unpickle"


def test_lazy_surface_in_subprocess():
    code = ("import sys, rna_papers.gtmaloc as G; assert 'torch' not in sys.modules, 'import loads torch'; "
            "import rna_papers.gtmaloc.cli; assert callable(G.cli) and G.cli.__name__ == 'cli'; "
            "assert 'torch' not in sys.modules, 'cli loads torch'; "
            "assert 'torch_geometric' not in sys.modules; f = G.predict_mirna; "
            "assert 'torch_geometric' not in sys.modules, 'predict_mirna loads the network code'; "
            "assert f.__module__ == 'rna_papers.gtmaloc.shipped' and G.node2vec and 'GTMALocClassifier' in dir(G); print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
    with pytest.raises(AttributeError, match="no attribute 'nope'"): G.nope


def test_cli_help_does_not_import_torch():
    code = ("import sys; from rna_papers.gtmaloc.cli import cli\n"
            "try: cli(['predict', '--help'])\nexcept SystemExit as e: assert e.code == 0\n"
            "assert 'torch' not in sys.modules; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "--model-dir" in r.stdout and "--device" in r.stdout and r.stdout.endswith("ok\n"), r.stderr


@pytest.mark.parametrize("argv, msg", [([], "the following arguments are required: command"),
                                       (["predict"], "the following arguments are required: --mirna"),
                                       (["fit"], "invalid choice: 'fit'")])
def test_cli_usage_errors_raise_one_line(argv, msg, capsys):
    with pytest.raises(ValueError, match=msg) as e: cli(argv)
    assert "\n" not in str(e.value) and capsys.readouterr().err == ""


# ---- shipped model: safetensors only, verified, cached ------------------------------------------------------------
@needs_model
def test_shipped_folder_is_safetensors_only():
    names = {p.name for p in MODEL_DIR.iterdir()}
    assert names == {"MANIFEST.tsv", "MODEL_CARD.md", "config.json", "features.npz", "model.safetensors"}, names
    assert not list(MODEL_DIR.rglob("*.pt"))
    with np.load(MODEL_DIR / "features.npz", allow_pickle=False) as z:
        assert z["ids"].dtype.kind == "U" and z["X"].shape == (1041, 1608)
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    assert "## History" in card and "re-serialised from weights.pt" in card and "2026-11-29" in card
    assert not re.search(r"/work/|/tmp/|/root/|/home/|site-packages", card)


@needs_model
def test_shipped_model_cached_per_device():
    a, b = G.load_shipped_model(), G.load_shipped_model(device="cpu")
    assert a is b


@needs_model
def test_model_dir_copy_loads_and_flipped_byte_is_an_error(tmp_path):
    d = shutil.copytree(MODEL_DIR, tmp_path / "m")
    good = G.predict_mirna("hsa-mir-21", d)
    assert np.allclose(good.probability, G.predict_mirna("hsa-mir-21").probability)
    w = d / "model.safetensors"; b = bytearray(w.read_bytes()); b[len(b) // 2] ^= 0x01; w.write_bytes(bytes(b))
    with pytest.raises(DataIntegrityError, match="checksum mismatch for model.safetensors") as e:
        G.predict_mirna("hsa-mir-21", d)
    assert "\n" not in str(e.value)
    with pytest.raises(DataIntegrityError, match="checksum mismatch"):
        cli(["predict", "--mirna", "hsa-mir-21", "--model-dir", str(d)])


@needs_model
def test_model_dir_with_a_pickle_is_refused(tmp_path):
    d = shutil.copytree(MODEL_DIR, tmp_path / "m"); (d / "weights.pt").write_bytes(b"\x80\x04not really")
    with pytest.raises(DataIntegrityError, match="weights.pt is a pickle"): G.predict_mirna("hsa-mir-21", d)


@pytest.mark.parametrize("bad", ["", "   ", "\t\n"])
def test_empty_mirna_id_is_one_line_error(bad):
    with pytest.raises(ValueError, match="empty miRNA ID") as e: G.predict_mirna(bad)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="empty miRNA ID"): cli(["predict", "--mirna", bad])


@needs_model
def test_arm_maps_to_precursor_with_one_warning():
    with pytest.warns(InputWarning) as rec: arm = G.predict_mirna("hsa-miR-21-5p")
    msgs = [str(w.message) for w in rec if issubclass(w.category, InputWarning)]
    assert len(msgs) == 1 and "hsa-miR-21-5p -> hsa-mir-21" in msgs[0] and "precursor" in msgs[0]
    assert arm.index.name == "hsa-mir-21"
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        plain = G.predict_mirna("miR-21")                     # case and prefix only: no warning
    assert arm.probability.equals(plain.probability)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_without_cuda_fails_before_any_work(tmp_path):
    missing = tmp_path / "no_such_model"               # the device error comes first: nothing is read
    with pytest.raises(ValueError, match="CUDA is not available") as e: G.predict_mirna("hsa-mir-21", missing, device="cuda")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="CUDA is not available"):
        cli(["predict", "--mirna", "hsa-mir-21", "--device", "cuda"])


def test_unknown_device_is_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="unknown device 'tpu'"): G.predict_mirna("hsa-mir-21", tmp_path, device="tpu")


def test_missing_model_dir_is_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="No such file or directory"): G.load_shipped_model(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="Not a directory"): G.load_shipped_model(tmp_path / "f")


def test_save_writes_safetensors_and_config_only(tmp_path):
    rng = np.random.default_rng(1); X = rng.normal(size=(30, 5)).astype(np.float32)
    Y = (rng.random((30, 7)) < 0.5).astype(np.float32)
    m = G.GTMALocClassifier([2, 3], d=8, heads=2, num_epochs=1, num_members=2).fit(X, Y)
    out = m.save(tmp_path / "m")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    from safetensors.torch import load_file
    keys = load_file(str(out / "model.safetensors"))
    assert {"scaler.mean", "scaler.scale"} <= set(keys) and any(k.startswith("member1.") for k in keys)
    assert np.array_equal(G.GTMALocClassifier.load(out).predict_proba(X), m.predict_proba(X))


def test_model_card_from_fields():
    card = G.model_card(dict(in_dims=[1, 2], d=8, heads=2, mode="tokens", dropout=0.1, num_epochs=3, lr=1e-3,
                             weight_decay=0.0, batch_size=4, patience=2, num_members=2, seed=0),
                        "smoke", {"macro_auc": 0.81234, "macro_aupr": 0.7, "folds": 5}, ["2026-01-01: note"])
    md = card.markdown()
    assert md.startswith("# GTMALoc classifier") and "macro AUC 0.8123" in md and "- 2026-01-01: note" in md
    assert ["Architecture", "Training", "Files", "Data", "Evaluation", "Intended use", "Limits", "Use", "History"] == list(card.sections)



def test_refresh_card_evaluation_rewrites_only_that_section(tmp_path):
    (tmp_path / "MODEL_CARD.md").write_text("# c\n\n## Evaluation\n\nold text\n\n## Use\n\nrun it\n")
    m = {"macro_auc": 0.87, "macro_aupr": 0.78, "folds": 10, "num_seeds": 3, "macro_auc_nested": 0.88, "nested_seeds": 1,
         "macro_auc_logreg": 0.872, "macro_auc_logreg_sd": 0.0015}
    assert G.refresh_card_evaluation(tmp_path, m) and not G.refresh_card_evaluation(tmp_path, m)
    t = (tmp_path / "MODEL_CARD.md").read_text()
    assert "old text" not in t and "nested CV, 1 seed(s)): macro AUC 0.8800." in t and "0.8720 ± 0.0015" in t
    assert t.startswith("# c\n\n## Evaluation") and t.endswith("## Use\n\nrun it\n")
    (tmp_path / "MODEL_CARD.md").write_text("# c\n")
    with pytest.raises(ValueError, match="no '## Evaluation' section"): G.refresh_card_evaluation(tmp_path, m)


def test_shipped_card_gives_the_nested_number_of_the_store():
    "The committed card quotes the nested CV and the baseline as the full-profile metrics file has them."
    import json
    root = Path(__file__).resolve().parents[1]
    m = json.loads((root / "results/full/gtmaloc.metrics.json").read_text())
    card = (root / "data/models/gtmaloc/MODEL_CARD.md").read_text()
    assert f"macro AUC {m['macro_auc_nested']:.4f} ± {m['macro_auc_nested_sd']:.4f}" in card
    assert f"macro AUC {m['macro_auc_logreg']:.4f} ± {m['macro_auc_logreg_sd']:.4f}" in card

# ---- nested CV and the simple baseline (issue 15) --------------------------------------------------------------
def test_nested_grid_covers_the_headline_choices():
    import rna_papers.gtmaloc.units as GU
    cfg = G.PROFILES["full"]; c = GU.candidates(cfg)
    assert {i for i, _, _ in c} == {"ours", "n2v", "gt", "no_profiles", "no_degree", "authors", "ours_kmer", "authors_kmer"}
    assert {m for _, m, _ in c} == {cfg.num_members, 1} and len(c) == 16
    assert all(GU.VARIANTS[v][0] == i and GU.VARIANTS[v][2].get("num_members", cfg.num_members) == m for i, m, v in c)
    assert len(GU.candidates(G.PROFILES["smoke"])) == 2                     # the smoke profile's tiny grid


def test_new_units_come_after_the_stored_ones():
    "The units stored before issue 15 keep their place (and keys); the new ones follow, the baseline first."
    import rna_papers.gtmaloc.units as GU
    exps = [u.experiment for u in GU.units("full")]
    first_new = exps.index("logreg")
    assert set(exps[:first_new]) == {"features", "cv", "pmislocmf"} and first_new == 1 + 45 + 10 + 160   # 16 ablations, seed 0
    inner = [u for u in GU.units("full") if u.experiment == "nested_inner"]
    assert len(inner) == 240 and all(u.params["inner_k"] == 2 and u.params["inner_seed"] == 0 for u in inner)
    assert exps[-20:] == ["pmislocmf"] * 20                       # its seeds 1-2, added after all the others


@pytest.mark.parametrize("delta, sd, n, call", [(0.004, 0.003, 3, "tie"), (-0.01, 0.003, 3, "worse"),
                                                (0.01, 0.003, 3, "better"), (0.01, 0.0, 1, "fewer than 3 seeds: no call"),
                                                (0.05, 0.001, 2, "fewer than 3 seeds: no call")])
def test_call_difference(delta, sd, n, call):
    from rna_papers.gtmaloc.units import call_difference
    assert call_difference(delta, sd, n) == call


def test_choose_C_never_reads_the_test_rows():
    from rna_papers.gtmaloc.units import choose_C
    rng = np.random.default_rng(0); X = rng.normal(size=(160, 4))
    Y = np.c_[X[:, :1] > 0, rng.random((160, 2)) < .5].astype(int)
    train = np.arange(120); C, auc = choose_C(X, Y, train, (0.01, 0.1, 1.0), inner_k=2)
    Y2 = Y.copy(); Y2[120:] = 1 - Y2[120:]                                  # scramble the labels of the rows left out
    assert choose_C(X, Y2, train, (0.01, 0.1, 1.0), inner_k=2) == (C, auc) and C == max(auc, key=auc.get)


def test_simple_features():
    d = G.load_gtmaloc_data(); F = G.simple_features(d)
    assert F.shape == (1041, 10) and np.isfinite(F.to_numpy()).all() and list(F.index) == d.ids
    assert np.allclose(F["log1p #drugs"], np.log1p(d.drug.sum(1)))


def test_member_scores_first_member_is_the_one_network_model():
    from rna_papers.gtmaloc.units import member_scores
    rng = np.random.default_rng(2); X = rng.normal(size=(40, 6)).astype(np.float32)
    Y = (rng.random((40, 7)) < 0.5).astype(np.float32)
    kw = dict(d=8, heads=2, num_epochs=2, seed=3)
    S = member_scores(G.GTMALocClassifier([3, 3], num_members=3, **kw).fit(X, Y), X)
    assert S.shape == (3, 40, 7)
    assert np.allclose(S[0], G.GTMALocClassifier([3, 3], num_members=1, **kw).fit(X, Y).predict_proba(X), atol=1e-6)


def test_mature_kmers_input():
    "The k-mer input the paper did not use: mean k-mer profile of each ID's matures, a flag where it has none; added to the sequence token only."
    import rna_papers.gtmaloc.units as GU
    from rna_papers.core.embed import kmer_frequencies
    d = G.load_gtmaloc_data(); X = GU.mature_kmers(d)
    seqs = [s.split(";") if isinstance(s, str) else [] for s in d.mapping.mature_seqs]
    assert X.shape == (1041, 85) and X[:, -1].tolist() == [float(not s) for s in seqs]
    i = next(k for k, s in enumerate(seqs) if len(set(s)) > 1)
    np.testing.assert_allclose(X[i, :-1], kmer_frequencies(sorted(set(seqs[i]))).mean(0), rtol=1e-6)
    np.testing.assert_allclose(X[X[:, -1] == 0, :4].sum(1), 1.0, rtol=1e-5)
    f = {k: np.zeros((1041, 64 if k == "n2v_seq" else 128), np.float32) for k in
         ("n2v_seq", "n2v_disease", "n2v_drug", "gt_disease", "gt_drug", "gt_mrna")}
    a, b = GU.input_blocks(d, f, "authors"), GU.input_blocks(d, f, "authors_kmer")
    assert b["sequence"].shape[1] == a["sequence"].shape[1] + 85 and all((a[m] == b[m]).all() for m in ("disease", "drug", "mrna"))
