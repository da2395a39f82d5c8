"""PLMF-MDA chapter: bad inputs, hand-worked molecular graph, padding invariance, save/load, score_pairs, CLI;
the package layout, shipped-model mechanism and bad-input handling of issue 12."""
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from rna_papers.core.data import DATA_DIR, verify_dataset
from rna_papers import plmf_mda as P

HAS_MODEL = (DATA_DIR / "models" / "plmf_mda" / "MANIFEST.tsv").exists()
needs_model = pytest.mark.skipif(not HAS_MODEL, reason="no shipped model in data/models/plmf_mda")
MIR21 = "UAGCUUAUCAGACUGAUGUUGA"
GEFITINIB = "COC1=C(OCCCN2CCOCC2)C=C2C(NC3=CC(Cl)=C(F)C=C3)=NC=NC2=C1"


@pytest.mark.parametrize("call, msg", [
    (lambda: P.mirna_tokens(["ACGU", "ACGX"], names=["m0", "hsa-bad"]), "hsa-bad: invalid nucleotide 'X' at position 4"),
    (lambda: P.mirna_tokens(["ACGU", ""]), "miRNA #1"),
    (lambda: P.mirna_tokens(["AC GU"]), "position 3"),
    (lambda: P.check_mirna(None, "mir-x"), "mir-x: empty"),
    (lambda: P.mol_graph("C1CC"), "SMILES 'C1CC'"),
    (lambda: P.mol_graph("not_a_molecule"), "SMILES 'not_a_molecule'"),
    (lambda: P.mol_graph(""), "SMILES ''"),
    (lambda: P.score_pairs([MIR21, MIR21], [GEFITINIB]), "2 miRNA sequences but 1 SMILES"),
    (lambda: P.score_pairs([MIR21], [GEFITINIB], task="toxicity"), "task must be"),
    (lambda: P.load_mirna_drug("XYZ"), "unknown dataset"),
    (lambda: P.cold_split(P.load_mirna_drug("MDR"), "protein"), "kind must be"),
])
def test_bad_inputs(call, msg):
    with pytest.raises(ValueError, match=msg): call()


def test_tokens_truncate_and_convert_t():
    X, cut = P.mirna_tokens(["acgt", "A" * 30])
    assert X.shape == (2, 24) and cut == 1
    assert X[0, :5].tolist() == [1, 2, 3, 4, 0]


def test_mol_graph_ethanol_by_hand():
    g = P.mol_graph("CCO")  # CH3-CH2-OH: 3 heavy atoms, 2 bonds
    assert g.x.shape == (3, 69) and P.NUM_ATOM_FEATURES == 69
    assert g.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    # offsets: element 0-43, hybridisation 44-49, degree 50-55, charge 56-60, H 61-65, arom 66, radical 67, ring 68
    hot = lambda row: torch.nonzero(g.x[row]).flatten().tolist()
    assert hot(0) == [0, 44 + 2, 50 + 1, 56 + 2, 61 + 3]   # C, SP3, degree 1, charge 0, 3 H
    assert hot(1) == [0, 44 + 2, 50 + 2, 56 + 2, 61 + 2]   # C, SP3, degree 2, charge 0, 2 H
    assert hot(2) == [2, 44 + 2, 50 + 1, 56 + 2, 61 + 1]   # O, SP3, degree 1, charge 0, 1 H
    b = P.mol_graph("c1ccccc1")
    assert b.x[:, 66].tolist() == [1.0] * 6 and b.x[:, 68].tolist() == [1.0] * 6 and b.x[:, 44 + 1].sum() == 6
    assert P.mol_graph("C").edge_index.shape == (2, 0)


def test_cnn_pooling_ignores_padding():
    torch.manual_seed(0)
    cnn = P.MultiScaleCNN(8, embed_dim=4, num_filters=3).eval()
    a, _ = P.mirna_tokens(["ACGUAGG", "GGC"], max_len=8)
    b, _ = P.mirna_tokens(["ACGUAGG", "GGC"], max_len=24)
    torch.testing.assert_close(cnn(a), cnn(b))


def test_gcn_pooling_over_real_atoms_only():
    torch.manual_seed(0)
    gcn = P.DrugGCN(hidden_channels=8, out_channels=8).eval()
    gs = [P.mol_graph("CCO"), P.mol_graph(GEFITINIB)]
    both, alone = Batch.from_data_list(gs), Batch.from_data_list(gs[:1])
    torch.testing.assert_close(gcn(both.x, both.edge_index, both.batch)[0], gcn(alone.x, alone.edge_index, alone.batch)[0],
                               atol=1e-5, rtol=1e-4)


def test_token_fusion_ignores_padded_tokens():
    torch.manual_seed(0)
    f = P.CrossModalAttentionFusion(8, heads=2).eval()
    a, b = torch.randn(2, 3, 8), torch.randn(2, 4, 8)
    am, bm = torch.tensor([[1, 1, 0], [1, 1, 1]]).bool(), torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]]).bool()
    a2, b2 = a.clone(), b.clone(); a2[~am] = 1e3; b2[~bm] = -7.0
    torch.testing.assert_close(f(a, b, am, bm), f(a2, b2, am, bm), atol=1e-5, rtol=1e-4)


def _toy(token=False):
    seqs = ["UGAGGUAGUAGGUUGUAUAGUU", "UAGCUUAUCAGACUGAUGUUGA", "CAUUGCACUUGUCUCGGUCUGA", "ACGUACGUACGUACGUACGU"]
    smiles = ["CCO", "c1ccccc1O", GEFITINIB]
    rng = np.random.default_rng(0)
    if token:
        plm = ({"tokens": torch.randn(4, 22, 16), "mask": torch.ones(4, 22).bool()},
               {"tokens": torch.randn(3, 30, 12), "mask": torch.ones(3, 30).bool()})
    else: plm = (torch.randn(4, 16), torch.randn(3, 12))
    pairs = np.array([(i, j) for i in range(4) for j in range(3)])
    y = rng.integers(0, 2, len(pairs)).astype(np.float32)
    return seqs, smiles, plm, pairs, y


@pytest.mark.parametrize("kw", [{}, {"fusion": "token"}, {"use_plm_mirna": False}, {"use_cnn": False, "use_gcn": False}])
def test_save_load_roundtrip(tmp_path, kw):
    seqs, smiles, plm, pairs, y = _toy(kw.get("fusion") == "token")
    m = P.PLMFMDA(P.ModelConfig(dim=16, **kw))
    feats = m.featurise(seqs, smiles, plm=plm)
    m.fit(feats, pairs, y, num_epochs=2, batch_size=4)
    p = m.predict(feats, pairs)
    assert p.shape == (12,) and ((p > 0) & (p < 1)).all()
    m2 = P.PLMFMDA.load(m.save(tmp_path / "m"))
    np.testing.assert_allclose(m2.predict(feats, pairs), p, rtol=1e-5, atol=1e-6)


def test_dataset_manifest_and_counts():
    verify_dataset("mirna_drug")
    for name, exp in P.EXPECTED.items():
        ds = P.load_mirna_drug(name)
        assert (len(ds.pos), ds.n_mirna, ds.n_drug) == (exp["n_pos"], exp["n_mirna"], exp["n_drug"])


def test_negatives_and_folds():
    ds = P.load_mirna_drug("MDS")
    pairs, labels, splits = P.cv_protocol(ds, 5, seed=3)
    assert labels.sum() == len(ds.pos) == (labels == 0).sum()
    assert not ds.matrix()[pairs[labels == 0, 0], pairs[labels == 0, 1]].any()
    assert len({tuple(p) for p in pairs}) == len(pairs)
    c = P.cold_split(ds, "drug")
    assert not np.isin(c["train_pairs"][:, 1], c["test_entities"]).any()


@needs_model
def test_score_pairs_shipped():
    s = P.score_pairs([MIR21, MIR21.replace("U", "T")], [GEFITINIB, GEFITINIB], task="resistance")
    assert s.shape == (2,) and 0 < s[0] < 1 and abs(s[0] - s[1]) < 1e-6
    assert P.score_pairs([MIR21], [GEFITINIB], task="sensitivity").shape == (1,)


@needs_model
def test_cli(capsys):
    assert P.cli(["predict", "--mirna-seq", MIR21, "--smiles", GEFITINIB, "--task", "sensitivity"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].split("\t") == ["mirna_seq", "smiles", "task", "score"] and len(out) == 2
    assert 0 < float(out[1].split("\t")[-1]) < 1


@needs_model
def test_cli_dispatcher_bad_smiles(capsys):
    from rna_papers.cli import main
    rc = main(["plmf-mda", "predict", "--mirna-seq", MIR21, "--smiles", "C1CC"])
    err = capsys.readouterr().err
    assert rc == 2 and "SMILES" in err and "C1CC" in err


def test_cv_table_runs_exactly_the_selected_folds():
    ds, prof = P.load_mirna_drug("MDR"), P.PROFILES["smoke"]
    every = P.cv_table("Degree", ds, None, prof, seed=1, n_folds=5)
    one = P.cv_table("Degree", ds, None, prof, seed=1, folds=[3])
    assert one.fold.tolist() == [3]
    assert one.auc.iloc[0] == pytest.approx(every.set_index("fold").auc[3])


# ---------------------------------------------------------------------------------------------------------------------
# Issue 12: package layout, shipped-model mechanism, bad input and usability
# ---------------------------------------------------------------------------------------------------------------------
import importlib, os, re, shutil, subprocess, sys, warnings
from pathlib import Path

from rna_papers.core import shipped as core_shipped
from rna_papers.core.data import REPO_ROOT, DataIntegrityError
from rna_papers.core.inputs import InputWarning

PKG = REPO_ROOT / "rna_papers" / "plmf_mda"
S = importlib.import_module("rna_papers.plmf_mda.shipped")
M = importlib.import_module("rna_papers.plmf_mda.model")
SHIPPED = DATA_DIR / "models" / "plmf_mda"


def _py(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)


def test_package_layout():
    assert not (REPO_ROOT / "rna_papers" / "plmf_mda.py").exists(), "the old single-file module must be gone"
    mods = {p.stem: len(p.read_text().splitlines()) for p in PKG.glob("*.py")}
    assert {"__init__", "data", "features", "model", "protocol", "baselines", "shipped", "cli"} <= set(mods)
    assert max(mods.values()) <= 400, mods


def test_package_imports_only_core():
    for p in PKG.glob("*.py"):
        src = p.read_text()
        assert not re.search(r"rna_papers\.lm\b|from \.\.lm import|from \.\. import lm", src), f"{p.name} imports rna_papers.lm"
        for other in ("gtmaloc", "utr_stcnet", "runner"):
            assert not re.search(rf"rna_papers\.{other}\b|from \.\.{other} import|from \.\. import {other}", src), f"{p.name} imports {other}"


MACHINE_PATH = re.compile(r"/work/|/tmp/|/root/|/home/|site-packages")

def test_no_machine_path():
    files = list(PKG.glob("*.py")) + [REPO_ROOT / "nbs" / "20_plmf_mda.ipynb"]
    files += list((REPO_ROOT / "nbs" / "modules").glob("19_plmf_mda_*.ipynb")) + list(SHIPPED.glob("*.md"))
    for f in files:
        hits = [m.group(0) for m in MACHINE_PATH.finditer(f.read_text())]
        assert not hits, f"{f.name}: machine path {hits[0]!r}"
    import inspect
    assert inspect.signature(P.build_mirna_drug).parameters["src"].default is None


def test_build_mirna_drug_missing_source(tmp_path):
    with pytest.raises(ValueError, match="no_such_folder/MDR: no such folder"):
        P.build_mirna_drug(tmp_path / "no_such_folder", tmp_path / "out")


def test_lazy_package_does_not_import_torch():
    r = _py("import sys, rna_papers.plmf_mda as P\n"
            "assert 'torch' not in sys.modules, 'import rna_papers.plmf_mda loaded torch'\n"
            "assert callable(P.cli) and 'torch' not in sys.modules\n"
            "try: P.cli(['--help'])\n"
            "except SystemExit as e: assert e.code == 0\n"
            "assert 'torch' not in sys.modules, '--help loaded torch'\n"
            "P.TASKS; assert 'torch' in sys.modules   # a model name loads its module\n"
            "assert {'score_pairs', 'PLMFMDA', 'load_mirna_drug', 'cv_table', 'run_gbm'} <= set(dir(P))\n")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "rna-papers plmf-mda" in r.stdout


def test_cli_task_choices_match_tasks():
    with pytest.raises(ValueError, match="invalid choice: 'toxicity'"):
        P.cli(["predict", "--mirna-seq", MIR21, "--smiles", GEFITINIB, "--task", "toxicity"])
    assert set(P.TASKS) == {"resistance", "sensitivity"}


@pytest.mark.parametrize("argv, msg", [
    (["predict", "--mirna-seq", MIR21], "the following arguments are required: --smiles"),
    ([], "the following arguments are required: cmd"),
    (["predict", "--mirna-seq", "ACGX", "--smiles", GEFITINIB], "miRNA #0 'ACGX': invalid nucleotide 'X' at position 4"),
    (["predict", "--mirna-seq", MIR21, "--smiles", "C1CC"], "SMILES 'C1CC'"),
    (["predict", "--mirna-seq", MIR21, "--mirna-seq", MIR21, "--smiles", "CCO", "--smiles", "CCO", "--smiles", "C"],
     "2 miRNA sequences but 3 SMILES"),
    (["predict", "--mirna-seq", MIR21, "--smiles", GEFITINIB, "--device", "tpu"], "unknown device 'tpu'"),
    (["predict", "--mirna-seq", MIR21, "--smiles", GEFITINIB, "--model-dir", "no_such_model_dir"], "no_such_model_dir"),
])
def test_cli_bad_input_is_one_value_error(argv, msg):
    with pytest.raises(ValueError, match=re.escape(msg)): P.cli(argv)


@pytest.mark.parametrize("call, msg", [
    (lambda: P.score_pairs(["ACGX"], [GEFITINIB]), "miRNA #0 'ACGX': invalid nucleotide 'X'"),
    (lambda: P.score_pairs([MIR21, ""], ["CCO", "CCO"]), "miRNA #1 '': empty"),
    (lambda: P.score_pairs([MIR21], ["not_a_molecule"]), "SMILES 'not_a_molecule'"),
    (lambda: P.score_pairs([MIR21], [""]), "SMILES ''"),
    (lambda: P.score_pairs([MIR21], [], task="resistance"), "1 miRNA sequences but 0 SMILES"),
    (lambda: P.score_pairs(["ACGX"], ["CCO"], device="tpu"), "unknown device 'tpu'"),   # the device first, before any work
    (lambda: P.score_pairs([], [], task="toxicity"), "task must be"),
    (lambda: P.load_shipped("resistance", folder="no_such_model_dir"), "no_such_model_dir: No such file"),
])
def test_score_pairs_bad_input(call, msg):
    with pytest.raises(ValueError, match=re.escape(msg)): call()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_one_line():
    with pytest.raises(ValueError, match="CUDA is not available"): P.score_pairs([MIR21], [GEFITINIB], device="cuda")
    with pytest.raises(ValueError, match="CUDA is not available"): P.load_shipped("resistance", "cuda")


def test_score_pairs_empty():
    s = P.score_pairs([], [])
    assert isinstance(s, np.ndarray) and s.shape == (0,) and s.dtype.kind == "f"


class _FakeDevice:
    "A second device name for the cache key; the tensors stay on the CPU."
    def __init__(self, name): self.name = name
    def __str__(self): return self.name


@needs_model
def test_shipped_cache_keyed_by_task_and_device(monkeypatch):
    core_shipped.clear_shipped_cache()
    loads, orig = [], S._load_tasks
    monkeypatch.setattr(S, "_load_tasks", lambda folder, dev: loads.append(str(dev)) or orig(folder, dev))
    a = S.load_shipped("resistance", "cpu")
    assert S.load_shipped("resistance", "cpu") is a and S.load_shipped("sensitivity", "cpu") is not a
    assert next(a.net.parameters()).device.type == "cpu" and loads == ["cpu"]
    # a second device gets its own model: `score_pairs(..., device=...)` no longer reuses the first device's
    monkeypatch.setattr(core_shipped, "check_device", lambda d="auto": _FakeDevice(str(d)))
    monkeypatch.setattr(S, "check_device", lambda d="auto": _FakeDevice(str(d)))
    monkeypatch.setattr(M, "check_device", lambda d="cpu": torch.device("cpu"))
    b = S.load_shipped("resistance", "gpu-x")
    assert b is not a and S.load_shipped("resistance", "gpu-x") is b and loads == ["cpu", "gpu-x"]
    P.score_pairs([MIR21], [GEFITINIB], device="gpu-y")
    P.score_pairs([MIR21], [GEFITINIB], device="gpu-y")
    assert loads == ["cpu", "gpu-x", "gpu-y"]
    core_shipped.clear_shipped_cache()


@needs_model
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_shipped_on_cpu_and_cuda():
    a, b = P.load_shipped("resistance", "cpu"), P.load_shipped("resistance", "cuda")
    assert a is not b and next(a.net.parameters()).device.type == "cpu" and next(b.net.parameters()).device.type == "cuda"
    s_cpu, s_gpu = P.score_pairs([MIR21], [GEFITINIB], device="cpu"), P.score_pairs([MIR21], [GEFITINIB], device="cuda")
    assert abs(s_cpu[0] - s_gpu[0]) < 1e-3


@needs_model
def test_out_of_domain_input_warns_once_per_call():
    long1, long2 = MIR21 + "ACGU", MIR21 + "GGGGG"
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s = P.score_pairs([long1, long2, long1, MIR21], [GEFITINIB, "[Na+].[Cl-]", GEFITINIB, "CCO.CCO"])
    assert s.shape == (4,)
    msgs = [str(x.message) for x in w if issubclass(x.category, InputWarning)]
    assert len(msgs) == 2, msgs
    assert "24-nt" in msgs[0] and "2 items" in msgs[0] and long1 in msgs[0] and long2 in msgs[0]
    assert "multi-fragment SMILES" in msgs[1] and "2 items" in msgs[1] and "[Na+].[Cl-]" in msgs[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        P.score_pairs([MIR21], [GEFITINIB])   # in-domain input: no warning


@needs_model
def test_no_loading_bars_on_repeated_calls(capfd):
    P.score_pairs([MIR21], [GEFITINIB]); capfd.readouterr()
    P.score_pairs([MIR21, MIR21[:20]], [GEFITINIB, "CCO"], task="sensitivity")
    out, err = capfd.readouterr()
    assert out == "" and "Loading" not in err and "%|" not in err, err


def test_progress_bar_only_for_long_predictions(monkeypatch):
    seqs, smiles, plm, pairs, y = _toy()
    m = P.PLMFMDA(P.ModelConfig(dim=8))
    feats = m.featurise(seqs, smiles, plm=plm)
    m.fit(feats, pairs, y, num_epochs=1, batch_size=4)
    calls = []
    monkeypatch.setattr(M, "progress", lambda it, **kw: calls.append(kw) or it)
    m.predict(feats, np.tile(pairs, (2000 // len(pairs), 1)))          # 1,992 pairs: no bar
    assert calls == []
    big = np.tile(pairs, (2004 // len(pairs), 1))                      # 2,004 pairs: a bar
    assert m.predict(feats, big).shape == (len(big),) and len(calls) == 1


def _copy_model(tmp_path) -> Path:
    dst = tmp_path / "plmf_model"
    shutil.copytree(SHIPPED, dst)
    return dst


@needs_model
def test_user_model_dir_verified(tmp_path):
    good = _copy_model(tmp_path)
    ref = P.score_pairs([MIR21], [GEFITINIB])
    np.testing.assert_allclose(P.score_pairs([MIR21], [GEFITINIB], folder=good), ref, rtol=1e-6)
    bad = tmp_path / "flipped"; shutil.copytree(good, bad)
    w = bad / "mdr" / "model.safetensors"; b = bytearray(w.read_bytes()); b[len(b) // 2] ^= 0x01; w.write_bytes(bytes(b))
    with pytest.raises(DataIntegrityError, match="checksum mismatch for mdr/model.safetensors"):
        P.score_pairs([MIR21], [GEFITINIB], folder=bad)
    with pytest.raises(DataIntegrityError, match="checksum mismatch"):
        P.cli(["predict", "--mirna-seq", MIR21, "--smiles", GEFITINIB, "--model-dir", str(bad)])
    pkl = tmp_path / "pickled"; shutil.copytree(good, pkl); (pkl / "mdr" / "model.pt").write_bytes(b"\x80\x04N.")
    with pytest.raises(DataIntegrityError, match="is a pickle"): P.load_shipped("resistance", folder=pkl)
    none = tmp_path / "no_manifest"; shutil.copytree(good, none); (none / "MANIFEST.tsv").unlink()
    with pytest.raises(DataIntegrityError, match="no MANIFEST.tsv"): P.load_shipped("resistance", folder=none)


def test_save_load_through_core_and_bad_config(tmp_path):
    import json
    seqs, smiles, plm, pairs, y = _toy()
    m = P.PLMFMDA(P.ModelConfig(dim=8))
    feats = m.featurise(seqs, smiles, plm=plm)
    m.fit(feats, pairs, y, num_epochs=1, batch_size=4)
    folder = m.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    tensors, cfg = core_shipped.load_weights(folder)
    assert cfg["dim"] == 8 and set(tensors) == set(m.net.state_dict())
    (folder / "config.json").write_text('{"dim": 8, "colour": "red"}')
    with pytest.raises(ValueError, match="not a PLMF-MDA config"): P.PLMFMDA.load(folder)
    (folder / "config.json").write_text(json.dumps({**cfg, "dim": 16}))
    with pytest.raises(ValueError, match="weights do not match config.json"): P.PLMFMDA.load(folder)


def test_train_shipped_writes_structured_card(tmp_path, monkeypatch):
    "train_shipped on a toy benchmark (no language models): weights, a card from fields, a manifest a user folder passes."
    import pandas as pd
    toy = P.MDADataset("toy", pd.DataFrame({"name": list("abcd"), "sequence": ["UGAGGUAGUAG", "UAGCUUAUCAG", "CAUUGCACUUG", "ACGUACGUAC"]}),
                       pd.DataFrame({"drugbank_id": ["x", "y", "z"], "smiles": ["CCO", "c1ccccc1O", "CCN"]}),
                       np.array([[0, 0], [1, 0], [2, 1], [3, 2], [1, 2]]))
    monkeypatch.setattr(S, "load_mirna_drug", lambda name: P.MDADataset(name, toy.mirnas, toy.drugs, toy.pos))
    monkeypatch.setattr(S, "ModelConfig", lambda: P.ModelConfig(dim=8, use_plm_mirna=False, use_plm_drug=False))
    folder = S.train_shipped(tmp_path / "shipped", num_epochs=1, batch_size=4, notes="Toy run.")
    card = (folder / "MODEL_CARD.md").read_text()
    for section in ("## Architecture", "## Language models", "## Training", "## Runs", "## Intended use and limits"):
        assert section in card
    assert "| resistance | MDR | 5 + 5 |" in card and "batch 4, 1 epochs" in card and "Toy run." in card.split("## Intended use and limits")[1]
    core_shipped.verify_model_dir(folder)
    assert P.load_shipped("sensitivity", folder=folder).config.dim == 8


@needs_model
def test_shipped_card_matches_weights():
    "The shipped card names the language models the shipped networks were trained with."
    import json
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    for sub in ("mdr", "mds"):
        assert json.loads((SHIPPED / sub / "config.json").read_text())["lm_fingerprints"] in card


def _entity_fixture(fusion, n_m=40, n_d=12, seed=0):
    "Real MDR drugs (graphs) and miRNAs (tokens) with random PLM inputs; float64."
    ds = P.load_mirna_drug("MDR")
    g = torch.Generator().manual_seed(seed)
    def plm(n, L):
        if fusion == "vector": return torch.randn(n, 8, generator=g, dtype=torch.float64)
        lens = torch.randint(1, L + 1, (n,), generator=g)
        return {"tokens": torch.randn(n, L, 8, generator=g, dtype=torch.float64), "mask": torch.arange(L) < lens[:, None]}
    X, _ = P.mirna_tokens(ds.mirnas.sequence.tolist()[:n_m])
    graphs = [P.mol_graph(s) for s in ds.drugs.smiles.tolist()[:n_d]]
    for gr in graphs: gr.x = gr.x.double()
    return P.PairFeatures(X, graphs, plm(n_m, 20), plm(n_d, 30))


@pytest.mark.parametrize("fusion", ["vector", "token"])
def test_per_entity_path_same_loss_and_gradients(fusion):
    """Both batch paths, on the same batch of 32 pairs (drugs repeated): same loss and gradients within 1e-6, in eval mode and in
    train mode with dropout 0 (batch norm on the batch's atoms); float64, so only the order of additions differs."""
    feats = _entity_fixture(fusion)
    rng = np.random.default_rng(0)
    pairs = np.stack([rng.integers(0, 40, 32), rng.integers(0, 12, 32)], 1)
    y = rng.integers(0, 2, 32).astype(np.float32)
    for mode in ["eval", "train"]:
        torch.manual_seed(0)
        net = P.PLMFMDANet(P.ModelConfig(dim=32, fusion=fusion, rna_dim=8, smiles_dim=8, dropout=0.0, attn_dropout=0.0)).double()
        net.train(mode == "train")
        out = {}
        for path in ["per_pair", "per_entity"]:
            b = next(iter(P.pair_batches(path, feats, pairs, y, batch_size=32)))
            assert b["lookup"] == (path == "per_entity") and len(b["m_inv"]) == 32 and len(b["d_inv"].unique()) < 12
            b["y"] = b["y"].double(); net.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(*P.pair_forward(net, b))
            loss.backward()
            out[path] = (loss.item(), [p.grad.clone() for p in net.parameters()])
        assert abs(out["per_pair"][0] - out["per_entity"][0]) < 1e-6
        for a, b in zip(out["per_pair"][1], out["per_entity"][1]):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
        assert any(gr.abs().sum() > 0 for gr in out["per_entity"][1])   # gradients reach the parameters


def test_fit_paths_agree_and_bad_path():
    """Without dropout, `fit`/`predict` on either path give the same predictions (float32, 2 epochs; Adam's normalised steps
    amplify float32 rounding of near-zero gradients to ~1e-4)."""
    ds = P.load_mirna_drug("MDR")
    m = P.PLMFMDA(P.ModelConfig(dim=16, dropout=0.0, attn_dropout=0.0))
    feats = m.featurise(ds.mirnas.sequence.tolist()[:30], ds.drugs.smiles.tolist()[:10],
                        plm=(torch.randn(30, 8), torch.randn(10, 8)))
    rng = np.random.default_rng(1)
    pairs = np.stack([rng.integers(0, 30, 64), rng.integers(0, 10, 64)], 1); y = rng.integers(0, 2, 64)
    p = {}
    for path in ["per_pair", "per_entity"]:
        m.fit(feats, pairs, y, num_epochs=2, batch_size=16, path=path); p[path] = m.predict(feats, pairs, path=path)
    np.testing.assert_allclose(p["per_entity"], p["per_pair"], atol=1e-3)
    with pytest.raises(ValueError, match="path must be one of"): m.fit(feats, pairs, y, num_epochs=1, path="per_atom")


# ---------------------------------------------------------------------------------------------------------------------
# Issue 14: degree-preserving negatives, baselines on the same splits, the protocol as experiment units
# ---------------------------------------------------------------------------------------------------------------------
from rna_papers.plmf_mda import units as U
from rna_papers.core.metrics import binary_scores
from rna_papers.core.units import execute_unit, make_unit, unit_key


def _side(sp, side, label):
    return sp[f"{side}_pairs"][sp[f"{side}_labels"] == label]


@pytest.mark.parametrize("name", ["MDR", "MDS"])
def test_dp_negatives_keep_degrees_no_positive_no_duplicate(name):
    ds = P.load_mirna_drug(name); A = ds.matrix()
    sp = P.fold_split(ds, "dp", 5, seed=1, fold=2)
    pp = P.fold_split(ds, "paper", 5, seed=1, fold=2)
    negs = []
    for side in ("train", "test"):
        pos, neg = _side(sp, side, 1), _side(sp, side, 0)
        assert len(neg) == len(pos)
        np.testing.assert_array_equal(np.bincount(neg[:, 1], minlength=ds.n_drug), np.bincount(pos[:, 1], minlength=ds.n_drug))
        np.testing.assert_array_equal(_side(pp, side, 1), pos)                  # the same positive folds as the paper's scheme
        assert not A[neg[:, 0], neg[:, 1]].any()                                 # no known positive
        negs.append(neg)
    allneg = np.vstack(negs)
    assert len({tuple(p) for p in allneg.tolist()}) == len(allneg)               # no duplicate, also across train and test
    info = sp["dp_info"]
    assert info["test_drug_degree_match"] == info["train_drug_degree_match"] == 1.0
    assert info["test_mirna_degree_match"] > 0.99 and info["train_mirna_degree_match"] > 0.9   # the recorded match
    paper_neg = {tuple(p) for p in _side(pp, "train", 0).tolist() + _side(pp, "test", 0).tolist()}
    assert not paper_neg & {tuple(p) for p in negs[1].tolist()}                  # never a paper-protocol negative


def test_rewire_negatives_exact_and_fallback():
    pos = np.array([(i, j) for i in range(8) for j in range(6) if (i + j) % 3 == 0]); A = np.zeros((8, 6), bool)
    A[pos[:, 0], pos[:, 1]] = True
    neg, info = P.rewire_negatives(pos, A, seed=3)
    for k, n in ((0, 8), (1, 6)): np.testing.assert_array_equal(np.bincount(neg[:, k], minlength=n), np.bincount(pos[:, k], minlength=n))
    assert not A[neg[:, 0], neg[:, 1]].any() and len(set(map(tuple, neg.tolist()))) == len(neg) and info["substituted"] == 0
    hub = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]); B = np.zeros((4, 2), bool); B[0] = B[1] = True   # no exact rewiring exists
    neg, info = P.rewire_negatives(hub, B, seed=0)
    assert info["substituted"] == 4 and info["drug_degree_match"] == 1.0 and info["mirna_degree_match"] == 0.0
    assert not B[neg[:, 0], neg[:, 1]].any() and sorted(set(neg[:, 0].tolist())) == [2, 3]


@pytest.mark.parametrize("name", ["MDR", "MDS"])
def test_degree_score_near_chance_under_dp(name):
    "Every fold of seed 0: the degree score is within 0.5 ± 0.05 under dp, and far above under the paper's negatives."
    ds = P.load_mirna_drug(name)
    for fold in range(5):
        auc = {}
        for scheme in ("dp", "paper"):
            sp = P.fold_split(ds, scheme, 5, seed=0, fold=fold)
            s = P.run_degree(ds, sp["train_pairs"], sp["train_labels"], sp["test_pairs"])
            auc[scheme] = binary_scores(sp["test_labels"], s)["auc"]
        assert abs(auc["dp"] - 0.5) <= 0.05, (fold, auc)
        assert auc["paper"] > 0.85, (fold, auc)


def test_inner_split_never_reads_the_outer_test_fold():
    "The design study's validation pairs come from the outer fold's training positives only, with their own dp negatives."
    ds = P.load_mirna_drug("MDR"); A = ds.matrix()
    outer, inner = P.fold_split(ds, "dp", 5, seed=0, fold=3), P.inner_split(ds, 5, seed=0, fold=3)
    pairs = lambda sp: {tuple(p) for side in ("train", "test") for p in sp[f"{side}_pairs"].tolist()}
    assert not pairs(inner) & {tuple(p) for p in outer["test_pairs"].tolist()}
    ipos = np.vstack([_side(inner, "train", 1), _side(inner, "test", 1)])
    assert sorted(map(tuple, ipos.tolist())) == sorted(map(tuple, _side(outer, "train", 1).tolist()))
    assert abs(len(_side(inner, "test", 1)) - 0.2 * len(ipos)) <= 1
    for side in ("train", "test"):
        neg, pos = _side(inner, side, 0), _side(inner, side, 1)
        assert not A[neg[:, 0], neg[:, 1]].any()
        np.testing.assert_array_equal(np.bincount(neg[:, 1], minlength=ds.n_drug), np.bincount(pos[:, 1], minlength=ds.n_drug))
    s = P.run_degree(ds, inner["train_pairs"], inner["train_labels"], inner["test_pairs"])
    assert abs(binary_scores(inner["test_labels"], s)["auc"] - 0.5) <= 0.05           # popularity is no help there either


@pytest.mark.parametrize("kind", ["drug", "mirna"])
def test_cold_dp_keeps_held_out_entities(kind):
    ds = P.load_mirna_drug("MDS"); col = 1 if kind == "drug" else 0
    sp = P.cold_split(ds, kind, seed=0, scheme="dp")
    neg, pos = _side(sp, "test", 0), _side(sp, "test", 1)
    assert np.isin(neg[:, col], sp["test_entities"]).all()                        # test negatives pair held-out entities
    np.testing.assert_array_equal(np.bincount(neg[:, col]), np.bincount(pos[:, col]))   # each with its own degree
    assert not np.isin(sp["train_pairs"][:, col], sp["test_entities"]).any()
    s = P.run_degree(ds, sp["train_pairs"], sp["train_labels"], sp["test_pairs"])
    assert abs(binary_scores(sp["test_labels"], s)["auc"] - 0.5) <= 0.05


def test_units_cover_the_protocol():
    full, smoke = U.units("full"), U.units("smoke")
    for us in (full, smoke):
        assert len({unit_key(u) for u in us}) == len(us)                          # unique keys
        assert all(u.data == ("mirna_drug",) for u in us)
    exps = lambda us: {u.experiment for u in us}
    assert exps(full) == exps(smoke) == {"cv", "design", "cold", "ablation", "case", "param", "token", "graphdta", "graphdta_check"}
    pick = lambda us, **kw: [u for u in us if all((getattr(u, k, None) if k in ("experiment", "variant", "dataset") else u.params.get(k)) == v
                                                 for k, v in kw.items())]
    # main CV: 3 seeds x 5 folds x both datasets x both schemes, PLMF-MDA and the baselines on the same folds
    for v in ("PLMF-MDA", "baselines", "GraphDTA-style"):
        assert len(pick(full, variant=v, protocol="cv", experiment="cv" if v != "GraphDTA-style" else "graphdta")) == 3 * 5 * 2 * 2
    # GraphDTA-style chooses between 5e-4 and 0 in each unit; the shown check runs both settings on fold 0's
    # training pairs of both datasets; every other network keeps PLMF-MDA's weight decay
    assert {tuple(u.params["weight_decay"]) for u in pick(full, experiment="graphdta")} == {P.PROFILES["full"].graphdta_weight_decays} == {(5e-4, 0.0)}
    assert {u.fn.rsplit(":")[-1] for u in pick(full, experiment="graphdta")} == {"graphdta_unit"}
    assert {(u.dataset, u.params["weight_decay"], u.seed, u.fold, u.params["scheme"]) for u in pick(full, experiment="graphdta_check")} == \
           {(d, w, 0, 0, "paper") for d in ("MDR", "MDS") for w in (5e-4, 0.0)}
    assert {u.params["weight_decay"] for u in full if u.fn.endswith(":model_unit")} == {5e-4}
    assert {u.variant for u in pick(full, experiment="ablation")} == set(P.ABLATIONS) - {"PLMF-MDA"}
    assert len(pick(full, experiment="cold", protocol="authors")) == 3 * 2 * 2          # the authors' MDS files
    assert {(u.params["scheme"], u.params["kind"], u.dataset) for u in pick(full, experiment="cold", protocol="cold")} == \
           {(s, k, d) for s in ("paper", "dp") for k in ("drug", "mirna") for d in ("MDR", "MDS")}
    assert {u.params["drug"] for u in pick(full, experiment="case")} == {"DB01248", "DB00317"}
    assert len(pick(full, experiment="param")) == (3 + 5) * 2 * 5
    # design study: per seed, dataset and outer fold (the seeds partition differently), both heads and the baselines on
    # that fold's inner validation pairs (dp), and the candidate head on every outer fold of the main CV
    inner = pick(full, experiment="design", protocol="inner")
    assert {(u.dataset, u.seed, u.fold, u.variant, u.params["scheme"]) for u in inner} == \
           {(d, s, f, v, "dp") for d in ("MDR", "MDS") for s in range(3) for f in range(5) for v in ("baselines", "head=concat", "head=interaction")}
    assert len(inner) == 90 and all(u.params["config"]["head"] == u.variant.removeprefix("head=") for u in inner if u.variant != "baselines")
    outer = pick(full, experiment="design", protocol="cv")
    main = {(u.dataset, u.seed, u.fold) for u in pick(full, experiment="cv", variant="PLMF-MDA", scheme="dp")}
    assert {(u.dataset, u.seed, u.fold) for u in outer} == main and len(outer) == 30      # the main CV's dp folds, each once
    assert {u.variant for u in outer} == {"head=interaction"} and all(u.params["config"] == {"head": "interaction"} for u in outer)
    # order: the first seed of the main CV first, GraphDTA-style last
    first = [u for u in full if u.experiment == "cv" and u.seed == 0]
    assert full[:len(first)] == first and full[-1].variant == "GraphDTA-style"
    # smoke: the same kinds of units, fewer and shorter
    assert len(smoke) < len(full) / 5 and max(u.params.get("epochs") or 0 for u in smoke) <= 2
    assert {(u.experiment, u.variant) for u in smoke} <= {(u.experiment, u.variant) for u in full} | {("ablation", "PLMF-MDA")}


@pytest.fixture
def toy_units(monkeypatch):
    "A 20 x 8 toy benchmark registered for the unit functions (random language-model vectors)."
    pos = np.array([(i, j) for i in range(20) for j in range(8) if i % (j + 2) == 0])
    import pandas as pd
    ds = P.MDADataset("toy20", pd.DataFrame({"name": [f"m{i}" for i in range(20)], "sequence": ["ACGUAGGUCA"] * 20}),
                      pd.DataFrame({"drugbank_id": [f"d{j}" for j in range(8)], "smiles": ["CCO", "c1ccccc1O"] * 4}), pos)
    g = torch.Generator().manual_seed(0)
    feats = P.PairFeatures(P.mirna_tokens(ds.mirnas.sequence.tolist())[0], [P.mol_graph(s) for s in ds.drugs.smiles],
                           torch.randn(20, 5, generator=g), torch.randn(8, 6, generator=g))
    monkeypatch.setitem(U._DATA, "toy20", ds)
    monkeypatch.setitem(U._FEATS, ("toy20", "vector", "cpu"), (ds, feats))
    return ds


@pytest.mark.parametrize("fn, variant, extra, keys", [
    ("model_unit", "PLMF-MDA", {"scheme": "paper", "config": {"dim": 8}}, {"auc", "aupr", "on_dp_auc", "on_dp_aupr"}),
    ("model_unit", "w/o-GCN", {"scheme": "dp", "config": {"dim": 8}}, {"auc", "aupr"}),
    ("graphdta_unit", "GraphDTA-style", {"scheme": "dp", "config": {}, "weight_decay": [5e-4, 0.0], "check_epochs": 1}, {"auc", "aupr"}),
    ("model_unit", "head=interaction", {"scheme": "dp", "protocol": "inner", "config": {"dim": 8, "head": "interaction"}}, {"auc", "aupr"}),
    ("baseline_unit", "baselines", {"scheme": "paper", "gbm_iter": 5},
     {f"{m}_{k}" for m in ("degree", "gbm") for k in ("auc", "aupr", "on_dp_auc", "on_dp_aupr")}),
])
def test_unit_fn_runs_at_toy_size(toy_units, fn, variant, extra, keys):
    s = {"protocol": "cv", "k": 4, "epochs": 1, "batch_size": 8, "lr": 5e-4, "weight_decay": 5e-4, **extra}
    u = make_unit("plmf_mda", "cv", f"rna_papers.plmf_mda.units:{fn}", s, dataset="toy20", variant=variant, seed=0, fold=1)
    out = execute_unit(u, "cpu")
    assert out["record"]["status"] == "ok", out["record"].get("traceback")
    assert set(out["record"]["metrics"]) == keys
    n = len(U.unit_split(u, toy_units)["test_pairs"])
    arr = out["arrays"]; a = arr["scores"] if "scores" in arr else arr["degree"]
    assert len(a) == n and a.dtype.kind == "f" and len(arr["labels"]) == n
    assert execute_unit(u, "cpu")["record"]["metrics"] == out["record"]["metrics"]     # seeded: the same record twice


def test_weight_decay_check_unit_at_toy_size(toy_units):
    "The GraphDTA-style training check: per-epoch loss and logit spread on training pairs, no test pair scored, seeded."
    s = {"protocol": "cv", "scheme": "paper", "k": 4, "epochs": 2, "batch_size": 8, "lr": 5e-4, "weight_decay": 5e-4}
    u = make_unit("plmf_mda", "graphdta_check", "rna_papers.plmf_mda.units:wd_check_unit", s, dataset="toy20",
                  variant="weight decay 0.0005", seed=0, fold=0)
    out = execute_unit(u, "cpu")
    assert out["record"]["status"] == "ok", out["record"].get("traceback")
    assert set(out["record"]["metrics"]) == {"train_loss", "logit_sd", "trains"} and out["record"]["metrics"]["trains"] in (0.0, 1.0)
    assert out["arrays"]["epoch"].tolist() == [0, 1, 2] and "scores" not in out["arrays"]
    assert execute_unit(u, "cpu")["record"]["metrics"] == out["record"]["metrics"]


def test_weight_decay_checks_see_training_pairs_only(toy_units, monkeypatch):
    "The fold check and each GraphDTA-style unit's choice train on the unit's training pairs, never on its test pairs."
    import pandas as pd
    import rna_papers.plmf_mda.baselines as B
    seen = []
    def fake(feats, pairs, labels, wd, *a, **k):     # a synthetic curve that never leaves ln 2
        seen.append(({tuple(x) for x in np.asarray(pairs)}, wd))
        return pd.DataFrame({"epoch": [0, 1], "train_loss": [np.nan, 0.6932], "logit_sd": [1e-3, 1e-9]})
    monkeypatch.setattr(B, "graphdta_train_check", fake); monkeypatch.setattr(U, "graphdta_train_check", fake)
    s = {"protocol": "cv", "scheme": "paper", "k": 4, "epochs": 1, "batch_size": 8, "lr": 5e-4, "check_epochs": 1, "config": {}}
    g = make_unit("plmf_mda", "graphdta", "rna_papers.plmf_mda.units:graphdta_unit", {**s, "weight_decay": [5e-4, 0.0]},
                  dataset="toy20", variant="GraphDTA-style", seed=0, fold=1)
    c = make_unit("plmf_mda", "graphdta_check", "rna_papers.plmf_mda.units:wd_check_unit", {**s, "weight_decay": 5e-4},
                  dataset="toy20", variant="weight decay 0.0005", seed=0, fold=1)
    rg, rc = execute_unit(g, "cpu")["record"], execute_unit(c, "cpu")["record"]
    assert rg["status"] == rc["status"] == "ok", (rg.get("traceback"), rc.get("traceback"))
    sp = U.unit_split(g, toy_units)
    train = {tuple(x) for x in sp["train_pairs"]}
    test = {tuple(x) for x in sp["test_pairs"]} | {tuple(x) for x in sp.get("dp_test_neg", np.empty((0, 2), int))}
    assert [w for _, w in seen] == [5e-4, 0.0, 5e-4] and all(p == train for p, _ in seen) and not train & test
    assert rg["info"]["weight_decay"] == 0.0 and rg["info"]["weight_decay_trains"] is False   # none trains: the last, flagged
    assert rc["metrics"]["trains"] == 0.0


def test_case_units_at_toy_size(toy_units):
    case = {"protocol": "case", "scheme": "dp", "drug": "d0"}
    u = make_unit("plmf_mda", "case", "rna_papers.plmf_mda.units:case_unit",
                  {**case, "epochs": 1, "batch_size": 8, "lr": 5e-4, "weight_decay": 5e-4}, dataset="toy20", variant="toy")
    b = make_unit("plmf_mda", "case", "rna_papers.plmf_mda.units:case_baseline_unit", {**case, "gbm_iter": 5},
                  dataset="toy20", variant="toy")
    rec, rb = execute_unit(u, "cpu"), execute_unit(b, "cpu")
    for r in (rec, rb): assert r["record"]["status"] == "ok", r["record"].get("traceback")
    m, mb = rec["record"]["metrics"], rb["record"]["metrics"]
    assert m["masked_known"] == mb["masked_known"] == 10 and "plmf_top10_confirmed" in m
    assert {"degree_top10_confirmed", "gbm_top10_confirmed"} <= set(mb) and "plmf_top10_confirmed" not in mb
    assert len(rec["arrays"]["plmf"]) == len(rb["arrays"]["degree"]) == 20


def test_design_ensemble_script():
    "scripts/plmf_design_ensemble.py on synthetic toy scores (not data): w = 1 is the head alone; mismatched labels raise."
    from conftest import load_script
    ens = load_script("plmf_design_ensemble")
    y = np.array([0, 0, 1, 1, 0, 1], np.int8)
    toy = {"baselines": {"labels": y, "gbm": np.array([.1, .6, .4, .9, .5, .2])},
           "head=concat": {"labels": y, "scores": y + .1 * np.arange(6)},
           "head=interaction": {"labels": y, "scores": -y.astype(float)}}
    df = ens.gains({("MDR", 0, 0): toy, ("MDS", 0, 0): {"baselines": toy["baselines"]}}, [0.5])
    assert len(df) == 4 and set(df.dataset) == {"MDR"}            # the incomplete fold is left out
    head = df.set_index(["head", "w"])
    gbm = head.gbm.iloc[0]
    assert head.loc[("concat", 1.0), "auc"] == 1.0 and head.loc[("interaction", 1.0), "auc"] == 0.0
    assert np.isclose(head.loc[("concat", 1.0), "gain"], 1 - gbm)
    bad = {**toy, "head=concat": {"labels": y[::-1], "scores": y}}
    with pytest.raises(ValueError, match="MDR seed 0 fold 0: labels differ"):
        ens.gains({("MDR", 0, 0): bad}, [0.5])
