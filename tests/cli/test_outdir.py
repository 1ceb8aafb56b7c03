"""StagedDir, the all-or-nothing output directory of the command line."""

import pytest

from curvlab._outdir import OutputError, StagedDir


class SafetensorError(Exception):
    """Stands in for safetensors' own error type (same name), raised for I/O failures."""


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device", "model.safetensors"),
                                 SafetensorError("Error while serializing: IoError(Os { code: 28 })")])
def test_save_errors_become_one_line_and_leave_nothing(tmp_path, exc):
    staged = StagedDir(tmp_path / "a" / "out")
    with pytest.raises(OutputError) as info:
        with staged, staged.saving():
            (staged.stage / "partial").write_text("x")
            raise exc
    message = str(info.value)
    assert "\n" not in message and "--out" in message and str(tmp_path / "a" / "out") in message
    assert info.value.status == 1
    assert list(tmp_path.iterdir()) == []


def test_other_errors_pass_through_and_still_clean_up(tmp_path):
    staged = StagedDir(tmp_path / "out")
    with pytest.raises(ZeroDivisionError):
        with staged, staged.saving():
            1 / 0
    assert list(tmp_path.iterdir()) == []


def test_commit_replaces_an_accepted_directory_whole(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with StagedDir(out, replaceable=lambda p: (p / "old.txt").exists()) as staged:
        (staged.stage / "new.txt").write_text("new")
        staged.commit()
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
