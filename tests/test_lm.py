"""Tests of `rna_papers.lm`: bad inputs, shapes, determinism, cache, shipped files, real-loader round trips.

The real loaders are tested on random-weight models saved in the real formats (no network):
RNA-FM through `fm` (small by default; the full 12-layer, 640-d size behind `RNA_PAPERS_FULL_TESTS=1`)
and ChemBERTa-77M-MLM's own config and tokenizer through `transformers`.
"""
import os

import pytest
import torch

from rna_papers.core.data import verify_dataset
from rna_papers.lm import (check_rna, check_smiles, embed, load_rna_lm, load_smiles_lm, write_rna_fm_checkpoint,
                           pool, PROFILES, RNA_VOCAB)

torch.set_num_threads(1)
SEQS = ["UGAGGUAGUAGGUUGUAUAGUU", "acgt", "GGCUAGCUAGCAUCGAUCGAUCGUAGCUAGCUAG"]
MOLS = ["CC(=O)Oc1ccccc1C(=O)O", "CCO", "c1ccc2[nH]ccc2c1"]


@pytest.fixture(scope="module")
def rna_lm(): return load_rna_lm()


@pytest.fixture(scope="module")
def smiles_lm(): return load_smiles_lm()


@pytest.fixture(scope="module")
def rna_fm(tmp_path_factory):
    path = tmp_path_factory.mktemp("rnafm") / "RNA-FM_pretrained.pth"
    return load_rna_lm(write_rna_fm_checkpoint(path, layers=2, embed_dim=64, ffn_embed_dim=128, attention_heads=4))


@pytest.fixture(scope="module")
def chemberta(tmp_path_factory):
    from transformers import AutoTokenizer, RobertaConfig, RobertaForMaskedLM
    from rna_papers.core.data import dataset_path
    src = dataset_path("models/chemberta_tokenizer")  # ChemBERTa-77M-MLM config.json + tokenizer files
    d = tmp_path_factory.mktemp("chemberta") / "ChemBERTa-77M-MLM"
    torch.manual_seed(0)
    RobertaForMaskedLM(RobertaConfig.from_pretrained(str(src))).save_pretrained(str(d))
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(str(d))
    return load_smiles_lm(d)


@pytest.mark.parametrize("name", ["lm_corpus", "models/rna_lm", "models/smiles_lm", "models/chemberta_tokenizer"])
def test_manifest(name):
    verify_dataset(name)


@pytest.mark.parametrize("bad, msg", [("", "item 1"), ("ACGN", "position 3"), ("AC GU", "position 2"),
                                      ("ACG-U", "'-'"), (None, "item 1"), ("acgux", "position 4")])
def test_bad_rna(rna_lm, bad, msg):
    with pytest.raises(ValueError, match=msg):
        embed(rna_lm, ["ACGU", bad])


@pytest.mark.parametrize("bad", ["", "C1CC", "C(C", "Xx", "c1cccc1"])
def test_bad_smiles(smiles_lm, bad):
    with pytest.raises(ValueError, match="SMILES item 1"):
        embed(smiles_lm, ["CCO", bad])


def test_bad_pooling_and_empty(rna_lm):
    with pytest.raises(ValueError, match="pooling"): embed(rna_lm, SEQS, pooling="max")
    with pytest.raises(ValueError, match="no items"): embed(rna_lm, [])


def test_rna_normalisation():
    assert check_rna("acgT") == "ACGU"
    assert check_smiles("CCO") == "CCO"


@pytest.mark.parametrize("which", ["rna_lm", "rna_fm"])
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_rna_shapes(request, which, pooling):
    lm = request.getfixturevalue(which)
    E = embed(lm, SEQS, pooling)
    assert E.shape == (3, lm.dim) and torch.isfinite(E).all()
    assert torch.equal(E, embed(lm, SEQS, pooling))  # deterministic
    torch.testing.assert_close(embed(lm, ["ACGU"], pooling), embed(lm, ["acgt"], pooling))


@pytest.mark.parametrize("which", ["rna_lm", "rna_fm"])
def test_rna_tokens(request, which):
    lm = request.getfixturevalue(which)
    T, M = embed(lm, SEQS, "tokens")
    assert T.shape == (3, 34, lm.dim) and M.dtype == torch.bool
    assert M.sum(1).tolist() == [22, 4, 34]
    assert (T[~M] == 0).all()


@pytest.mark.parametrize("which", ["smiles_lm", "chemberta"])
@pytest.mark.parametrize("pooling", ["cls", "mean", "tokens"])
def test_smiles_shapes(request, which, pooling):
    lm = request.getfixturevalue(which)
    out = embed(lm, MOLS, pooling)
    if pooling == "tokens":
        T, M = out
        assert T.shape[:1] == (3,) and T.shape[2] == lm.dim and M.shape == T.shape[:2]
        assert M.sum(1).tolist()[1] == 3  # C, C, O
    else:
        assert out.shape == (3, lm.dim)


def test_batch_invariance(rna_lm, smiles_lm):
    torch.testing.assert_close(embed(rna_lm, SEQS[:1], "mean")[0], embed(rna_lm, SEQS, "mean", batch_size=2)[0],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(embed(smiles_lm, MOLS[1:2], "cls")[0], embed(smiles_lm, MOLS, "cls")[1],
                               atol=1e-5, rtol=1e-5)


def test_cache(rna_lm, tmp_path, monkeypatch):
    monkeypatch.setenv("RNA_PAPERS_CACHE", str(tmp_path))
    a = embed(rna_lm, SEQS, "mean", cache=True)
    files = list(tmp_path.rglob("*.pt"))
    assert len(files) == 1
    b = embed(rna_lm, SEQS, "mean", cache=True)
    assert torch.equal(a, b) and len(list(tmp_path.rglob("*.pt"))) == 1
    T, M = embed(rna_lm, SEQS, "tokens", cache=True)
    assert T.shape[0] == 3 and len(list(tmp_path.rglob("*.pt"))) == 2


def test_loaders(rna_lm, smiles_lm, rna_fm, chemberta):
    assert (rna_lm.kind, rna_lm.name, rna_fm.name, rna_fm.dim) == ("rna", "rna_lm", "rna-fm", 64)
    assert (smiles_lm.kind, chemberta.name, chemberta.dim) == ("smiles", "chemberta", 384)
    assert rna_lm.module.config.vocab_size == len(RNA_VOCAB)
    assert PROFILES["full"].rna_steps > PROFILES["smoke"].rna_steps and PROFILES["full"].smiles_steps > PROFILES["smoke"].smiles_steps
    with pytest.raises(ValueError, match="No such file"): load_rna_lm("nonexistent/RNA-FM_pretrained.pth")
    with pytest.raises(ValueError, match="No such directory"): load_smiles_lm("nonexistent/chemberta")


def test_pool_padding_invariance():
    H = torch.randn(2, 5, 3); res = torch.tensor([[0, 1, 1, 0, 0], [0, 1, 1, 0, 0]], dtype=torch.bool)
    H2 = H.clone(); H2[:, 3:] = 99.0  # padding / special tokens must not matter
    torch.testing.assert_close(pool(H, res, "mean"), pool(H2, res, "mean"))


@pytest.mark.skipif(os.environ.get("RNA_PAPERS_FULL_TESTS") != "1", reason="full-size RNA-FM (400 MB checkpoint)")
def test_rna_fm_full_size(tmp_path):
    lm = load_rna_lm(write_rna_fm_checkpoint(tmp_path / "RNA-FM_pretrained.pth"))
    assert lm.dim == 640 and lm.module.num_layers == 12
    assert embed(lm, SEQS, "mean").shape == (3, 640)


def test_chemberta_pickled_weights_are_refused(tmp_path):
    "A directory with only pytorch_model.bin (a pickle) is refused in one line; nothing is unpickled."
    (tmp_path / "config.json").write_text("{}")
    torch.save({"w": torch.zeros(1)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"no \*\.safetensors weights"): load_smiles_lm(tmp_path)
