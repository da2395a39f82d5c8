"UTR-STCNet chapter: input checks, padding invariance, save/load, predict_mrl, CLI, GEO loader and splits."
import subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import load_script
from rna_papers.core.data import DATA_DIR, verify_dataset
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


def test_parts_tables_and_recorded_parts():
    "Ablation / multi-task rows: the long form the chapter and scripts/utr_full_parts.py share, and the recorded file."
    import pandas as pd
    from rna_papers.core.data import REPO_ROOT
    sc = lambda r2: dict(r2=r2, spearman=0.5, rmse=1.0, pearson=0.0)
    parts = U.parts_frame({"UTR-STCNet": sc(0.8), "w/o SGA": sc(0.7)}, {("U+V", "u"): sc(0.6), ("U+V", "v"): sc(0.5)})
    ab, mt = U.ablation_table(parts), U.multitask_table(parts)
    assert ab.loc["w/o SGA", "ours_r2"] == 0.7 and ab.loc["w/o SGA", "paper_r2"] == U.PAPER_TABLE_II.loc["w/o SGA", "r2"]
    assert mt.loc[("U+V", "v"), "r2"] == 0.5 and len(U.parts_frame({}, {})) == 0
    rec = REPO_ROOT / "results" / "full" / "utr_stcnet.parts.csv"
    if rec.exists():
        df = pd.read_csv(rec)
        assert not df.duplicated(["experiment", "task"]).any()
        assert set(df[df.group == "ablation"].experiment) == set(U.PAPER_TABLE_II.index)
        assert df.r2.between(-1, 1).all() and (df.profile == "full").all()


def _synthetic_table_i():
    "Synthetic Table I (not results): R² 0.1 × model rank + task offset."
    import pandas as pd
    rows = [dict(task=t, model=k, ours_r2=0.1 * i + dt, ours_spearman=0.5, ours_rmse=1.0)
            for t, dt in (("h", 0.0), ("u", 0.01), ("v", 0.02)) for i, k in enumerate(("stcnet", "optimus", "framepool", "mttrans", "lm"))]
    return pd.DataFrame(rows).set_index(["task", "model"])


def test_multitask_table_and_metrics_keys():
    sc = lambda r2: dict(r2=r2, spearman=0.5, rmse=1.0)
    parts = U.parts_frame({"w/o SATC & SGA": sc(0.7)}, {("U+V", "u"): sc(0.05), ("U+H+V", "h"): sc(0.2)})
    mt = U.multitask_table(parts, _synthetic_table_i())
    assert mt.loc[("U+V", "u"), "single_task_r2"] == 0.01 and mt.loc[("U+V", "u"), "gain_r2"] == 0.04
    m = U.utr_metrics(_synthetic_table_i(), parts)
    assert m["mpra_h_r2"] == 0.0 and m["mpra_h_r2_cnn"] == 0.1 and m["mpra_h_r2_mttrans"] == pytest.approx(0.3)
    assert m["mpra_v_r2"] == 0.02 and m["mpra_u_r2_lm"] == pytest.approx(0.41) and "mpra_h_r2_optimus" not in m
    assert m["ablation_wo_satc_sga_r2"] == 0.7 and m["multitask_uv_u_r2"] == 0.05 and m["multitask_uhv_h_r2"] == 0.2


def test_parts_script_writes_metrics_only_when_complete(tmp_path, capsys):
    import json
    S = load_script("utr_full_parts")
    _synthetic_table_i().to_csv(tmp_path / "utr_stcnet.table_i.csv")
    sc = lambda r2: dict(r2=r2, spearman=0.5, rmse=1.0)
    ab = {n: sc(0.8) for n in S.ABLATION}
    mt = {(n, t): sc(0.9) for n, ts in S.MULTITASK.items() for t in ts}
    part = U.parts_frame(ab, {}).assign(device="cuda", seconds=2.0)
    part.to_csv(tmp_path / "part.csv", index=False)
    S.write_metrics(tmp_path / "part.csv", tmp_path, "cpu")
    assert "metrics not written: missing ['U+H+V', 'U+V']" in capsys.readouterr().out
    assert not (tmp_path / "utr_stcnet.metrics.json").exists()
    U.parts_frame(ab, mt).assign(device="cuda", seconds=2.0).to_csv(tmp_path / "all.csv", index=False)
    S.write_metrics(tmp_path / "all.csv", tmp_path, "cpu")
    m = json.loads((tmp_path / "utr_stcnet.metrics.json").read_text())
    assert m["profile"] == "full" and m["device"] == "cpu+cuda" and m["seconds"] == 2.0 * (len(ab) + len(S.MULTITASK))  # per experiment, not per row
    assert m["multitask_uhv_v_r2"] == 0.9 and m["mpra_h_r2_cnn"] == 0.1


def test_recorded_metrics_match_recorded_tables():
    "The recorded full-profile metrics file is what the recorded Table I and parts rows give."
    import json, pandas as pd
    from rna_papers.core.data import REPO_ROOT
    rec = REPO_ROOT / "results" / "full"
    if not (rec / "utr_stcnet.metrics.json").exists(): pytest.skip("no recorded full-profile metrics")
    m = json.loads((rec / "utr_stcnet.metrics.json").read_text())
    want = U.utr_metrics(pd.read_csv(rec / "utr_stcnet.table_i.csv", index_col=[0, 1]), pd.read_csv(rec / "utr_stcnet.parts.csv"))
    assert {k: m[k] for k in want} == pytest.approx(want) and m["profile"] == "full"
    from rna_papers.core.profiles import check_thresholds
    assert not check_thresholds(m, json.loads((rec / "utr_stcnet.thresholds.json").read_text()))
