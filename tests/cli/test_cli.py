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
    (["--bogus"], "--bogus"),                        # names the unknown option, not the missing command
    (["reproduce", "--bogus"], "--bogus"),
    (["prune", "--out", "x", "--bogus"], "--bogus"),
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


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: quick)" in text and "(default: curvlab-report)" in text and "(default: 0)" in text
    assert "(default: None)" not in text and "(default: False)" not in text


# ---------------------------------------------------------------- --out: staged, swapped in whole

def _fake_registry(monkeypatch, fn):
    monkeypatch.setattr(ex, "_REGISTRY", {"§3/f": ex.Experiment("3", "f", fn)})
    monkeypatch.setattr(ex, "load_all", lambda sections=None: None)


def _holding(size, seed):
    from curvlab.experiments.findings import Figure, new_figure

    fig, ax = new_figure()
    ax.plot([0, 1], [0, seed])
    ax.set(xlabel="x", ylabel="y")
    return [Finding("3", "§3", f"claim {seed}", 1.0, 1.0, "= 1", Verdict.HOLDS,
                    figures=(Figure.from_matplotlib(fig, f"fig-seed{seed}", "a figure"),))]


def _snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_previous_report_is_replaced_as_a_whole(tmp_path, monkeypatch):
    _fake_registry(monkeypatch, _holding)
    out = tmp_path / "rep"
    assert cli.main(["reproduce", "--only", "3", "--out", str(out), "--seed", "1", "--no-progress"]) == 0
    assert cli.main(["reproduce", "--only", "3", "--out", str(out), "--seed", "2", "--no-progress"]) == 0
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["fig-seed2.png"]   # old figures gone
    assert json.loads((out / "report.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]                     # no staging left


def test_a_non_empty_directory_that_is_not_a_report_is_refused(tmp_path, monkeypatch, capsys):
    _fake_registry(monkeypatch, _holding)
    (tmp_path / "notes.txt").write_text("mine")
    assert cli.main(["reproduce", "--only", "3", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "non-empty" in err[0] and "--out" in err[0]
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_interrupted_run_leaves_the_old_report_whole(tmp_path, monkeypatch):
    _fake_registry(monkeypatch, _holding)
    out = tmp_path / "rep"
    assert cli.main(["reproduce", "--only", "3", "--out", str(out), "--seed", "1", "--no-progress"]) == 0
    before = _snapshot(out)

    def interrupted(size, seed):
        raise KeyboardInterrupt

    _fake_registry(monkeypatch, interrupted)
    assert cli.main(["reproduce", "--only", "3", "--out", str(out), "--seed", "2", "--no-progress"]) == 130
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_an_interrupted_run_into_a_new_directory_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(size, seed):
        raise KeyboardInterrupt

    _fake_registry(monkeypatch, interrupted)
    assert cli.main(["reproduce", "--only", "3", "--out", str(tmp_path / "a" / "b" / "rep"), "--no-progress"]) == 130
    assert list(tmp_path.iterdir()) == []                      # neither the report nor the parents made for it


def test_report_files_follow_the_umask(tmp_path, monkeypatch):
    import os
    import stat

    _fake_registry(monkeypatch, _holding)
    old = os.umask(0o077)
    try:
        assert cli.main(["reproduce", "--only", "3", "--out", str(tmp_path / "rep"), "--no-progress"]) == 0
    finally:
        os.umask(old)
    root = tmp_path / "rep"
    modes = {stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()}
    assert modes == {0o600} and stat.S_IMODE(root.stat().st_mode) == 0o700
    os.umask(0o022)
    try:
        assert cli.main(["reproduce", "--only", "3", "--out", str(root), "--no-progress"]) == 0
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()} == {0o644}
    assert stat.S_IMODE((root / "figures").stat().st_mode) == 0o755


def test_sigterm_mid_run_leaves_nothing(tmp_path):
    """`kill` (SIGTERM) during the experiments unwinds like Ctrl-C: no staging directory, no output."""
    import signal

    script = ("import time, curvlab.experiments as ex\n"
              "from curvlab import cli\n"
              "def slow(size, seed):\n"
              "    print('started', flush=True); time.sleep(60); return []\n"
              "ex._REGISTRY = {'§3/f': ex.Experiment('3', 'f', slow)}\n"
              "ex.load_all = lambda sections=None: None\n"
              f"raise SystemExit(cli.main(['reproduce', '--only', '3', '--out', {str(tmp_path / 'new' / 'rep')!r}]))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "started"
    assert (tmp_path / "new").exists()                           # the staging directory is there mid-run
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert list(tmp_path.iterdir()) == []
