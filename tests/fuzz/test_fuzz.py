"""The bad-input table: every public entry point fed NaN, inf, empty, one row, wrong shapes
and dtypes, complex, out-of-range parameters, non-SPD matrices and faults raised half-way
(issue #15, point 6).

Each ``cases_*.py`` module beside this file defines ``CASES: list[Case]`` (row type in
``_case.py``). A case states what a user must get:

* ``raises``: an exception of that type whose message matches ``match`` — the argument's
  name and, where there is one, the fix. Never a raw torch / numpy / LAPACK error (those are
  ``RuntimeError``, ``IndexError``, ``LinAlgError``, ... and fail the ``raises`` check);
* ``warns``: a warning of that category, and a result that ``check`` accepts;
* neither: a correct handling — no error, and ``check(result)`` holds.

:func:`test_every_entry_point_has_a_case` fails when a public name of a curvlab subpackage
has no case and is not listed in :data:`NOT_ENTRY_POINTS` (with the reason) — so a new
public function cannot be added without its bad-input cases.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import warnings
from pathlib import Path

import pytest

import curvlab

from ._case import Case

HERE = Path(__file__).parent


def _load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(HERE.glob("cases_*.py")):
        module = importlib.import_module(f"{__package__}.{path.stem}")
        rows = getattr(module, "CASES", None)
        if not isinstance(rows, list) or not all(isinstance(c, Case) for c in rows):
            raise TypeError(f"{path.name} must define CASES: list[Case].")
        cases.extend(rows)
    return cases


CASES = _load_cases()

# The subpackages (and top-level modules) whose ``__all__`` is the public API a user calls.
PACKAGES = ("curvature", "optim", "prune", "siamese", "linear", "dropout", "models", "data",
            "distributed", "report", "experiments", "cli",
            # public modules that their package tells users to import by full path
            "curvature.inverse", "curvature.layer_hessian", "curvature.output_sensitivity",
            "curvature.gauss_newton")

# Top-level modules of curvlab that are not public API of their own (besides private
# ``_name`` modules, which are skipped).
NOT_PACKAGES: dict[str, str] = {}

# Public names that are not entry points a user feeds data: constants, result records,
# exceptions and warnings, type aliases. One line of reason each.
NOT_ENTRY_POINTS: dict[str, str] = {
    # curvature
    "curvlab.curvature.LanczosResult": "result record of lanczos",
    "curvlab.curvature.StableLR": "result record of max_stable_lr",
    "curvlab.curvature.TraceEstimate": "result record of hutchinson / hutchpp",
    # optim
    "curvlab.optim.Trajectory": "result record of Quadratic / gradient_descent / newton",
    "curvlab.optim.NetworkTrajectory": "result record of gradient_descent / newton",
    # prune
    "curvlab.prune.CURVATURES": "constant: the names of the curvatures",
    "curvlab.prune.LayerRecord": "result record inside PruningReport",
    "curvlab.prune.RoundRecord": "result record inside PruningReport",
    "curvlab.prune.ObsResult": "result record of global_obs",
    "curvlab.prune.PruningReport": "result record of prune_global",
    "curvlab.prune.PruneReport": "result record of prune_model",
    # siamese
    "curvlab.siamese.CollapseWarning": "warning category",
    "curvlab.siamese.History": "result record of train",
    "curvlab.siamese.VerificationReport": "result record of verification_report",
    # linear
    "curvlab.linear.RankDeficiencyWarning": "warning category",
    "curvlab.linear.KruskalResult": "result record of ols_equals_gls",
    # dropout
    "curvlab.dropout.SampledResult": "result record of fit_sampled",
    # data
    "curvlab.data.Longley": "result record of load_longley",
    "curvlab.data.load_longley": "takes no arguments (a bundled file); tested in tests/linear",
    "curvlab.data.default_corpus_path": "takes no arguments (a file written from bundled data)",
    # distributed (bad-input cases in cases_distributed.py)
    "curvlab.distributed.DistributedError": "exception class",
    **{f"curvlab.distributed.{n}": "takes no arguments (reads the process group or the environment)"
       for n in ("is_distributed", "world_size", "rank", "is_main_process", "launched_by_torchrun")},
    # experiments (run by `curvlab reproduce`)
    "curvlab.experiments.SIZES": "constant: the experiment sizes",
    "curvlab.experiments.Experiment": "record of a registered experiment",
    "curvlab.experiments.ExperimentResult": "result record of run_experiment",
}



def _public_names() -> list[str]:
    names = []
    for pkg in PACKAGES:
        module = importlib.import_module(f"curvlab.{pkg}")
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"curvlab.{pkg} has no __all__; declare its public names."
        names += [f"curvlab.{pkg}.{n}" for n in exported]
    return names


def _resolve(target: str):
    """Import the longest module prefix of ``target`` and follow the attributes."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(target)


# ------------------------------------------------------------------------------- the table
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case):
    if case.warns is not None:
        assert case.check is not None, f"{case.id}: a case with warns needs a check of the result"
        with pytest.warns(case.warns, match=case.match):
            result = case.call()
        assert case.check(result), f"{case.id}: the result after the warning is not well defined: {result!r}"
        return
    if case.raises is not None:
        assert case.match, f"{case.id}: a raising case needs match (the argument's name)"
        with pytest.raises(case.raises) as info:
            case.call()
        message = str(info.value)
        assert re.search(case.match, message), (
            f"{case.id}: {type(info.value).__name__}({message!r}) does not match {case.match!r}")
        return
    assert case.check is not None, f"{case.id}: a case that neither raises nor warns needs a check"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a correct handling is silent
        result = case.call()
    assert case.check(result), f"{case.id}: wrong result {result!r}"


# ------------------------------------------------------------------------------- coverage
def test_every_entry_point_has_a_case():
    targets = {c.target for c in CASES}

    def covered(name: str) -> bool:
        return any(t == name or t.startswith(name + ".") for t in targets)

    missing = [n for n in _public_names()
               if not covered(n) and n not in NOT_ENTRY_POINTS]
    assert not missing, (
        "public names without a bad-input case (add rows to a tests/fuzz/cases_*.py, or list the "
        f"name in NOT_ENTRY_POINTS with a reason): {missing}")


def test_excluded_names_are_public():
    public = set(_public_names())
    stale = sorted(set(NOT_ENTRY_POINTS) - public)
    assert not stale, f"listed names that are not public (renamed or removed?): {stale}"


def test_every_public_subpackage_is_enumerated():
    found = {m.name for m in pkgutil.iter_modules(curvlab.__path__)}
    top = {p.split(".")[0] for p in PACKAGES}
    unlisted = sorted(n for n in found - top - set(NOT_PACKAGES) if not n.startswith("_"))
    assert not unlisted, f"curvlab modules neither in PACKAGES nor NOT_PACKAGES: {unlisted}"


def test_every_target_exists():
    unknown = []
    for target in sorted({c.target for c in CASES}):
        try:
            _resolve(target)
        except (ImportError, AttributeError):
            unknown.append(target)
    assert not unknown, f"case targets that name nothing: {unknown}"
