"""The verdict logic and the experiment registry."""

import json

import numpy as np
import pytest

import curvlab.experiments as ex
from curvlab.experiments.findings import Figure, Finding, Verdict, check, judge_correction, new_figure


@pytest.mark.parametrize("notes_ok, corrected_ok, expected", [
    (False, True, Verdict.CORRECTED),
    (True, True, Verdict.HOLDS),
    (False, False, Verdict.FAILS),
    (True, False, Verdict.FAILS),
])
def test_judge_correction_truth_table(notes_ok, corrected_ok, expected):
    assert judge_correction(notes_ok, corrected_ok) is expected


def test_check_and_ok():
    assert check(True) is Verdict.HOLDS and check(np.bool_(False)) is Verdict.FAILS
    assert Verdict.HOLDS.ok and Verdict.CORRECTED.ok and not Verdict.FAILS.ok


def test_finding_to_dict_is_plain_json():
    f = Finding(section="2", ref="§2.2, eq. (13)", claim="c", measured=np.float64(1.5), predicted=float("nan"),
                tolerance="t", verdict="holds", details={"a": np.arange(3), "b": (np.int64(2), np.inf)})
    d = json.loads(json.dumps(f.to_dict()))
    assert d["measured"] == 1.5 and d["predicted"] == "nan" and d["verdict"] == "holds"
    assert d["details"] == {"a": [0, 1, 2], "b": [2, "inf"]}


def test_figure_is_png():
    fig, ax = new_figure()
    ax.plot([0, 1], [1, 0])
    png = Figure.from_matplotlib(fig, "x", "caption").png
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_registry_rejects_unknown_section():
    with pytest.raises(ValueError, match="section must be one of"):
        ex.experiment(section="7", name="nope")


def test_run_experiment_turns_an_exception_into_a_failed_finding():
    def boom(size, seed):
        raise RuntimeError("kaput")

    result = ex.run_experiment(ex.Experiment("3", "boom", boom), "quick", 0)
    assert [f.verdict for f in result.findings] == [Verdict.FAILS]
    assert "kaput" in result.findings[0].measured and "RuntimeError" in result.error
    with pytest.raises(ValueError, match="size must be one of"):
        ex.run_experiment(ex.Experiment("3", "boom", boom), "huge", 0)


def test_all_sections_have_experiments_registered_in_order():
    sections = [e.section for e in ex.registered()]
    assert sections == sorted(sections, key=int)
    assert {"2", "5"} <= set(sections)


def test_thread_limits_apply_and_restore():
    import torch
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    with ex.thread_limits(1):
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert torch.get_num_threads() == before
