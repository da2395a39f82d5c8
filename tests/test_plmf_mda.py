"PLMF-MDA chapter: bad inputs, hand-worked molecular graph, padding invariance, save/load, score_pairs, CLI."
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from conftest import load_script
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


def test_full_units_plan_and_metrics(tmp_path, capsys):
    import pandas as pd
    S = load_script("plmf_full_units")
    main = S.plan_units(["main"])
    assert len(main) == len(set(main)) == 3 * 2 * 5
    with pytest.raises(ValueError, match="unknown plan 'cold'"): S.plan_units(["cold"])
    # synthetic rows (not results): AUC = 0.9 + seed / 100 on MDR, 0.8 on MDS
    rows = pd.DataFrame([dict(dataset=n, method=m, seed=s, fold=f, seconds=1.0, auc=0.9 + s / 100 if n == "MDR" else 0.8,
                              aupr=0.7, device="cpu") for m, n, s, f in main])
    rows.iloc[:-1].to_csv(tmp_path / "part.csv", index=False)
    S.write_metrics(tmp_path / "part.csv", tmp_path)
    assert "1 main units missing" in capsys.readouterr().out and not (tmp_path / "plmf_mda.metrics.json").exists()
    rows.to_csv(tmp_path / "all.csv", index=False)
    S.write_metrics(tmp_path / "all.csv", tmp_path)
    import json
    m = json.loads((tmp_path / "plmf_mda.metrics.json").read_text())
    assert m["mdr_auc"] == pytest.approx(0.91) and m["mds_auc"] == pytest.approx(0.8) and m["num_seeds"] == 3
    assert m["profile"] == "full" and "mdr_gbm_auc" not in m


def test_recorded_full_run_is_consistent():
    "The shipped full-run rows hold every main fold once, and its metrics file is what they give."
    import json, pandas as pd
    from rna_papers.core.data import REPO_ROOT
    rec = REPO_ROOT / "results" / "full"
    if not (rec / "plmf_mda.cv_units.csv").exists(): pytest.skip("no recorded full run")
    df = pd.read_csv(rec / "plmf_mda.cv_units.csv")
    assert not df.duplicated(["method", "dataset", "seed", "fold"]).any()
    assert set(load_script("plmf_full_units").plan_units(["main"])) <= {(r.method, r.dataset, r.seed, r.fold) for r in df.itertuples()}
    m, t = json.loads((rec / "plmf_mda.metrics.json").read_text()), P.summarise(df)
    for n in ("MDR", "MDS"):
        assert m[f"{n.lower()}_auc"] == pytest.approx(t.loc[(n, "PLMF-MDA"), "auc"])
