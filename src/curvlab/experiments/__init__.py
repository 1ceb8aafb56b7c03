"""The experiments behind ``curvlab reproduce``: one module per section of the notes.

An experiment is a function ``(size, seed) -> list[Finding]`` registered with
:func:`experiment`. Modules in this package whose names start with ``sec`` are imported by
:func:`load_all`, so a new section is added by adding a module — the pipeline is untouched::

    from curvlab.experiments import experiment
    from curvlab.experiments.findings import Finding, check

    @experiment(section="2", name="training-error")
    def training_error(size, seed):
        ...
        return [Finding(...)]

``size`` is ``"quick"`` (the whole ``curvlab reproduce --size quick`` stays under two
minutes) or ``"full"``. The same ``seed`` must give the same numbers.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import logging
import pkgutil
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from .findings import Finding, Verdict
from .sections import SECTIONS

__all__ = ["Experiment", "ExperimentResult", "SIZES", "experiment", "load_all", "progress", "registered",
           "run_experiment", "thread_limits"]

log = logging.getLogger(__name__)

Size = Literal["quick", "full"]
SIZES: tuple[str, ...] = ("quick", "full")


@dataclass(frozen=True)
class Experiment:
    section: str
    name: str
    fn: Callable[[str, int], list[Finding]]

    @property
    def key(self) -> str:
        return f"§{self.section}/{self.name}"


@dataclass(frozen=True)
class ExperimentResult:
    experiment: Experiment
    findings: tuple[Finding, ...]
    elapsed_s: float
    error: str | None = None  # the traceback when the experiment raised


_REGISTRY: dict[str, Experiment] = {}
_SHOW_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("curvlab_show_progress", default=False)


def progress(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it"):
    """A progress bar (``tqdm``) for the long loops of an experiment.

    With an ``iterable``, wrap it; without one, return a bar to advance with ``update(n)``
    and end with ``close()`` (counting work done in chunks, e.g. 20 000 fits 256 at a time).
    The bar shows only while :func:`run_experiment` runs with ``progress=True`` (``curvlab
    reproduce`` on a terminal, without ``--no-progress``); otherwise the iterable comes back
    unchanged, or a bar that does nothing. It stays below the command's own bar and
    disappears when done.
    """
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise ValueError(f"total must be None or an integer >= 0 (the number of steps); got {total!r}.")
    if not _SHOW_PROGRESS.get():
        return iterable if iterable is not None else _NoBar()
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, position=1, mininterval=0.5)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def check_results(results, name: str = "results") -> list[ExperimentResult]:
    """``results`` as a list of :class:`ExperimentResult`, or a TypeError naming ``name``."""
    if isinstance(results, (str, bytes)) or not isinstance(results, Iterable):
        raise TypeError(f"{name} must be a list of ExperimentResult (from run_experiment); "
                        f"got {type(results).__name__}.")
    results = list(results)
    for i, r in enumerate(results):
        if not isinstance(r, ExperimentResult):
            raise TypeError(f"{name}[{i}] must be an ExperimentResult (from run_experiment); "
                            f"got {type(r).__name__}.")
    return results


def _check_sections(sections: Iterable[str] | None) -> set[str] | None:
    if sections is None:
        return None
    if isinstance(sections, (str, bytes)) or not isinstance(sections, Iterable):
        raise TypeError(f"sections must be a list of section ids such as ['1', '5'] (or None for all); "
                        f"got {sections!r}.")
    wanted = {str(s) for s in sections}
    unknown = sorted(wanted - set(SECTIONS))
    if unknown:
        raise ValueError(f"sections must be among {sorted(SECTIONS)}; got unknown {unknown}.")
    return wanted


def experiment(*, section: str, name: str):
    """Register ``fn(size, seed) -> list[Finding]`` as an experiment of ``section``."""
    if section not in SECTIONS:
        raise ValueError(f"section must be one of {sorted(SECTIONS)}; got {section!r}.")

    def register(fn):
        exp = Experiment(section=section, name=name, fn=fn)
        if exp.key in _REGISTRY and _REGISTRY[exp.key].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"experiment {exp.key} is registered twice.")
        _REGISTRY[exp.key] = exp
        return fn

    return register


def load_all(sections: Iterable[str] | None = None) -> None:
    """Import the ``sec<N>*`` modules of this package (all, or those of ``sections``), so
    that their experiments register. A module's section is the digit after ``sec``.

    A module that fails to import (a missing optional dependency, say) does not stop the
    others: it is registered as an experiment that re-raises the import error when run, so
    the report shows it as a failed finding.
    """
    sections = _check_sections(sections)
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("sec"):
            continue
        if sections is not None and info.name[3:4] not in sections:
            continue
        try:
            importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # noqa: BLE001 — surfaced as a failing finding
            section = info.name[3:4]
            if section not in SECTIONS:
                raise
            log.warning("experiments module %s failed to import: %s", info.name, exc)
            _REGISTRY.setdefault(f"§{section}/{info.name}", Experiment(section, info.name, _reraise(exc)))


def _reraise(exc: Exception):
    def run(size, seed):
        raise ImportError(f"the experiment module could not be imported: {exc}") from exc

    return run


def registered(sections: Iterable[str] | None = None) -> list[Experiment]:
    """The registered experiments, ordered by section then registration order."""
    wanted = _check_sections(sections)
    load_all(wanted)
    chosen = [e for e in _REGISTRY.values() if wanted is None or e.section in wanted]
    return sorted(chosen, key=lambda e: int(e.section))


@contextlib.contextmanager
def thread_limits(threads: int):
    """Run a block with at most ``threads`` BLAS and PyTorch intra-op threads, then restore.

    The experiments are many small problems (8×8 digits, MLPs, 20×20 matrices): extra threads
    buy nothing there, and on a busy machine their spin-waiting slows small kernels by 10×.
    """
    import torch
    from threadpoolctl import threadpool_limits

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1 (e.g. 1); got {threads!r}.")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def run_experiment(exp: Experiment, size: str, seed: int, *, threads: int = 1,
                   progress: bool = False) -> ExperimentResult:
    """Run one experiment with ``threads`` threads; an exception becomes a ``fails`` finding.

    ``progress=True`` lets the experiment's long loops show bars (see :func:`progress`).
    """
    if not isinstance(exp, Experiment):
        raise TypeError(f"exp must be an Experiment (from registered()); got {type(exp).__name__}.")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}; got {size!r}.")
    start = time.perf_counter()
    token = _SHOW_PROGRESS.set(bool(progress))
    try:
        with thread_limits(threads):
            findings = tuple(exp.fn(size, seed))
        error = None
    except Exception as exc:  # noqa: BLE001 — reported as a failed finding, with its traceback
        log.exception("experiment %s raised", exp.key)
        error = traceback.format_exc()
        findings = (
            Finding(
                section=exp.section, ref=f"§{exp.section} ({exp.name})",
                claim=f"experiment {exp.name!r} ran to completion",
                measured=f"{type(exc).__name__}: {exc}", predicted="no error",
                tolerance="—", verdict=Verdict.FAILS,
            ),
        )
    finally:
        _SHOW_PROGRESS.reset(token)
    return ExperimentResult(exp, findings, time.perf_counter() - start, error)
