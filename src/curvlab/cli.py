"""The ``curvlab`` command line.

    curvlab reproduce [--size quick|full] [--out DIR] [--seed N] [--only SECTION ...]
    curvlab prune --out DIR [--model minilm|DIR] [--sparsity 0.5] [--pattern 2:4] ...

Bad arguments print one line, ``curvlab: error: ...``, and exit with status 2; an output
that cannot be written prints one line and exits with status 1. ``reproduce`` exits 0 when
every finding holds or is corrected, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from . import __version__
from ._outdir import OutputError, StagedDir

__all__ = ["main"]

log = logging.getLogger("curvlab")


class UsageError(Exception):
    """A bad argument: reported on one line, exit status 2."""


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" after each help text, except for flags and options without one."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or isinstance(action, argparse._VersionAction):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """One-line errors (not argparse's usage block), and every default shown in ``--help``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsHelp)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="curvlab", description="The second-order view of deep learning, verified.")
    parser.add_argument("--version", action="version", version=f"curvlab {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    # Not ``required``: argparse would then report a missing COMMAND before an unknown option
    # (``curvlab --bogus`` said "COMMAND is required"); main() checks for the command itself.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_reproduce(sub)
    from .prune.cli import add_parser as _add_prune
    _add_prune(sub)
    return parser


# ---------------------------------------------------------------- reproduce

def _add_reproduce(sub) -> None:
    from .experiments import SIZES
    from .experiments.sections import SECTIONS

    p = sub.add_parser("reproduce", help="check every claim of the derivation notes and write a report",
                       description="Check every claim of the derivation notes on real data and write "
                                   "DIR/index.html (self-contained), DIR/report.json and DIR/figures/.")
    p.add_argument("--size", choices=SIZES, default="quick",
                   help="quick (about a minute) or full (the sizes the report quotes; see docs/reproduce.md)")
    p.add_argument("--out", default="curvlab-report", metavar="DIR",
                   help="report directory: new, empty, or a previous report (replaced as a whole)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same numbers")
    p.add_argument("--only", nargs="+", metavar="SECTION", choices=sorted(SECTIONS),
                   help="run only these sections of the notes (1 … 6); default: all of them")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS / PyTorch threads per experiment (the problems are small; extra threads "
                        "only contend)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=_reproduce)


def is_previous_report(path: Path) -> bool:
    """True if ``path`` holds a report written by ``curvlab reproduce`` (and nothing else)."""
    try:
        report = json.loads((path / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    ours = {"report.json", "index.html", "figures"}
    return (isinstance(report, dict) and "curvlab_version" in report and "sections" in report
            and all(p.name in ours for p in path.iterdir()))


def _reproduce(args) -> int:
    from tqdm.auto import tqdm

    from .experiments import registered, run_experiment
    from .report import ReportMeta, format_table, write_report

    if args.threads < 1:
        raise UsageError(f"--threads must be >= 1; got {args.threads}")
    experiments = registered(args.only)
    if not experiments:
        raise UsageError(f"no experiments are registered for sections {args.only}")
    out = Path(args.out)
    show = not args.no_progress and sys.stderr.isatty()
    with StagedDir(out, replaceable=is_previous_report, prefix=".curvlab-report-") as staged:
        results = []
        bar = tqdm(experiments, desc="reproduce", unit="exp", disable=not show)
        for exp in bar:
            bar.set_postfix_str(exp.key)
            log.info("running %s", exp.key)
            results.append(run_experiment(exp, args.size, args.seed, threads=args.threads, progress=show))
        bar.close()
        print(format_table(results))
        command = "curvlab " + " ".join(shlex.quote(a) for a in args.argv)
        with staged.saving():
            write_report(results, staged.stage, ReportMeta(__version__, args.size, args.seed, command))
        staged.commit()
    ok = all(f.verdict.ok for r in results for f in r.findings)
    print(f"\nReport: {(out / 'index.html').resolve()}")
    print(f"        {(out / 'report.json').resolve()}")
    return 0 if ok else 1


# ---------------------------------------------------------------- torchrun

@contextlib.contextmanager
def _process_group():
    """Under ``torchrun`` (RANK / WORLD_SIZE / MASTER_* set): a process group for the command.

    Gloo for CPU tensors, and NCCL for CUDA tensors where GPUs are present, so collectives
    follow the model's device (:func:`curvlab.distributed.init_from_env`). Ranks other than 0
    print nothing (stdout to /dev/null, logging at ERROR): one output, one progress bar. An
    error on a rank is posted to the group's store before it propagates, so a rank waiting for
    it in a collective ends with that message (:func:`curvlab.distributed.post_failure`).
    Without torchrun: nothing.
    """
    from . import distributed as cd

    if not cd.init_from_env():
        yield
        return
    quiet = None if cd.is_main_process() else open(os.devnull, "w")
    try:
        with contextlib.redirect_stdout(quiet) if quiet else contextlib.nullcontext():
            if quiet:
                logging.getLogger().setLevel(logging.ERROR)
            try:
                yield
            except BaseException as exc:
                cd.post_failure(exc)
                if not cd.is_main_process():
                    print(f"curvlab (rank {cd.rank()}): {type(exc).__name__}: {exc}", file=sys.stderr)
                raise
    finally:
        if quiet:
            quiet.close()
        import torch.distributed as dist

        dist.destroy_process_group()


# ---------------------------------------------------------------- entry point

def _terminate(signum, frame):
    """SIGTERM (a CI timeout, ``kill``) unwinds like Ctrl-C, so a staged output is removed."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    if isinstance(argv, (str, bytes)):
        raise TypeError(f"argv must be a list of strings such as ['reproduce', '--size', 'quick']; got the "
                        f"single string {argv!r} (split it with shlex.split).")
    argv = list(sys.argv[1:] if argv is None else argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("the following arguments are required: COMMAND (reproduce or prune; "
                             "see 'curvlab --help')")
        args.argv = argv
        logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                            format="%(levelname)s %(name)s: %(message)s")
        with _process_group():
            return args.run(args)
    except UsageError as exc:
        print(f"curvlab: error: {exc}", file=sys.stderr)
        return 2
    except OutputError as exc:
        print(f"curvlab: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("curvlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
