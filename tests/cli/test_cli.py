"""The command line: exit codes, one-line errors, and a real `reproduce` in a subprocess."""

import json
import subprocess
import sys

import pytest

import curvlab
import curvlab.experiments as ex
from curvlab import cli
from curvlab.experiments.findings import Finding, Verdict


def _curvlab(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "curvlab", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_version():
    out = _curvlab("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"curvlab {curvlab.__version__}"


def test_reproduce_subprocess_writes_report_and_exits_zero(tmp_path):
    out = _curvlab("reproduce", "--only", "2", "--out", str(tmp_path / "r"), "--seed", "1")
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["ok"] and report["seed"] == 1 and [s["id"] for s in report["sections"]] == ["2"]
    assert (tmp_path / "r" / "index.html").is_file()
    assert str((tmp_path / "r" / "index.html").resolve()) in out.stdout
    assert "§2.2, eq. (13)" in out.stdout


@pytest.mark.parametrize("args, needle", [
    (["reproduce", "--size", "huge"], "--size"),
    (["reproduce", "--only", "9"], "--only"),
    (["reproduce", "--seed", "x"], "--seed"),
    (["reproduce", "--threads", "0"], "--threads"),
    ([], "COMMAND"),
])
def test_bad_arguments_give_one_line_and_status_2(args, needle, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("curvlab: error:") and needle in err[0]


def test_unwritable_out_gives_status_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["reproduce", "--only", "2", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0]


def test_exit_status_1_when_a_finding_fails(tmp_path, monkeypatch, capsys):
    def failing(size, seed):
        return [Finding("3", "§3", "a claim that fails", 1.0, 0.0, "= 0", Verdict.FAILS)]

    monkeypatch.setattr(ex, "_REGISTRY", {"§3/f": ex.Experiment("3", "f", failing)})
    monkeypatch.setattr(ex, "load_all", lambda sections=None: None)
    assert cli.main(["reproduce", "--only", "3", "--out", str(tmp_path), "--no-progress"]) == 1
    assert json.loads((tmp_path / "report.json").read_text())["ok"] is False
    assert "FAILS" in capsys.readouterr().out
