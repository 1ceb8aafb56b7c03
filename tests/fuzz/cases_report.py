"""Bad-input cases for the report writer, the experiment registry and the command line.

Run by ``test_fuzz.py``. Each call is cheap: no experiment is run (``run_experiment`` is
given a one-line experiment that returns no findings where a valid one is needed).
"""

from __future__ import annotations

from curvlab import cli
from curvlab import experiments as ex
from curvlab import report as rp

from ._case import Case

VE, TE = ValueError, TypeError

_META = dict(version="0.1.0", size="quick", seed=0, command="curvlab reproduce")


def _meta(**kw):
    return rp.ReportMeta(**{**_META, **kw})


def _result():
    exp = ex.Experiment(section="2", name="fuzz", fn=lambda size, seed: [])
    return ex.run_experiment(exp, "quick", 0)


def _main_usage(argv):
    """``cli.main`` answers bad arguments with exit status 2 and one line (never a traceback);
    the case re-raises that as a ValueError carrying the line so the runner can match it."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(argv)
    if status == 2:
        raise ValueError(err.getvalue().strip())
    return status


CASES: list[Case] = [
    # report
    Case("curvlab.report.ReportMeta", "range", lambda: _meta(size="huge"), match="size must be one of"),
    Case("curvlab.report.ReportMeta", "dtype", lambda: _meta(seed="0"), match="seed must be an integer"),
    Case("curvlab.report.build_report", "dtype", lambda: rp.build_report(None, _meta()), match="results must be"),
    Case("curvlab.report.build_report", "dtype", lambda: rp.build_report([1], _meta()), match=r"results\[0\]"),
    Case("curvlab.report.build_report", "dtype", lambda: rp.build_report([_result()], {"size": "quick"}),
         match="meta must be a ReportMeta"),
    Case("curvlab.report.write_report", "dtype", lambda: rp.write_report([_result()], 5, _meta()),
         match="out_dir must be a directory path"),
    Case("curvlab.report.write_report", "dtype", lambda: rp.write_report("abc", "/tmp/x", _meta()),
         match="results must be"),
    Case("curvlab.report.format_table", "dtype", lambda: rp.format_table(None), match="results must be"),
    Case("curvlab.report.format_table", "dtype", lambda: rp.format_table([object()]), match=r"results\[0\]"),
    Case("curvlab.report.format_table", "range", lambda: rp.format_table([], width=-1), match="width must be"),
    # format_value takes any value by design: whatever it is not a number of becomes str(value)
    Case("curvlab.report.format_value", "dtype", lambda: rp.format_value(float("nan")), raises=None,
         check=lambda s: s == "nan"),
    # experiments
    Case("curvlab.experiments.experiment", "range", lambda: ex.experiment(section="9", name="x"),
         match="section must be one of"),
    Case("curvlab.experiments.load_all", "range", lambda: ex.load_all(["9"]), match="sections must be among"),
    Case("curvlab.experiments.load_all", "dtype", lambda: ex.load_all("12"), match="sections must be a list"),
    Case("curvlab.experiments.registered", "range", lambda: ex.registered(["x"]), match="sections must be among"),
    Case("curvlab.experiments.thread_limits", "range", lambda: ex.thread_limits(0).__enter__(),
         match="threads must be an integer >= 1"),
    Case("curvlab.experiments.thread_limits", "dtype", lambda: ex.thread_limits("2").__enter__(),
         match="threads must be an integer >= 1"),
    Case("curvlab.experiments.run_experiment", "dtype", lambda: ex.run_experiment(None, "quick", 0),
         match="exp must be an Experiment"),
    Case("curvlab.experiments.run_experiment", "range",
         lambda: ex.run_experiment(ex.Experiment("2", "fuzz", lambda s, r: []), "huge", 0),
         match="size must be one of"),
    Case("curvlab.experiments.progress", "range", lambda: ex.progress(total=-1), match="total must be"),
    # the command line
    Case("curvlab.cli.main", "dtype", lambda: cli.main("reproduce"), raises=TE, match="argv must be a list"),
    Case("curvlab.cli.main", "range", lambda: _main_usage(["--bogus"]), match="--bogus"),
    Case("curvlab.cli.main", "range", lambda: _main_usage(["reproduce", "--size", "huge"]), match="huge"),
    Case("curvlab.cli.main", "range", lambda: _main_usage(["prune", "--sparsity", "1.5", "--out", "/tmp/curvlab-fuzz-unused"]), match="sparsity"),
]
