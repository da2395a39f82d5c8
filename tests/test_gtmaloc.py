"GTMALoc chapter: shipped data/model manifests, bad inputs, tiny-graph checks, save/load, fixed seeds, CLI."
import subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rna_papers.core.data import DATA_DIR, verify_dataset
from rna_papers import gtmaloc as G

ROOT = Path(__file__).resolve().parents[1]
HAS_MODEL = (DATA_DIR / "models" / "gtmaloc" / "MANIFEST.tsv").exists()
needs_model = pytest.mark.skipif(not HAS_MODEL, reason="no shipped model in data/models/gtmaloc")


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
    assert G.cli(["predict", "--mirna", "hsa-mir-21"]) == 0
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
