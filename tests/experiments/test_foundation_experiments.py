"""The §2 and §5 quadratic experiments at quick size: their verdicts, and determinism.

The experiments compare Monte Carlo / simulated measurements with theory; here we check
that they reach the verdicts the theory implies and that a seed fixes every number.
"""

import curvlab.experiments as ex
from curvlab.experiments.findings import Verdict


def _run(section, name, seed=0):
    (exp,) = [e for e in ex.registered([section]) if e.name == name]
    result = ex.run_experiment(exp, "quick", seed)
    assert result.error is None, result.error
    return result


def test_least_squares_training_error_holds():
    result = _run("2", "training-error")
    verdicts = [f.verdict for f in result.findings]
    assert verdicts and all(v is Verdict.HOLDS for v in verdicts)
    refs = {f.ref for f in result.findings}
    assert {"§2.2, eq. (13)", "§2.3", "§2.2, eqs. (12)–(13)"} <= refs
    assert any(f.figures for f in result.findings)


def test_quadratic_experiment_verdicts_and_determinism():
    a = _run("5", "quadratic", seed=3)
    by_ref = {f.ref: f for f in a.findings}
    assert by_ref["§5.3, eq. (36)"].verdict is Verdict.HOLDS
    assert by_ref["§5.2, eq. (35)"].verdict is Verdict.CORRECTED   # the notes' (35) lacks the power t
    assert by_ref["§5.4, eq. (37)"].verdict is Verdict.HOLDS
    b = _run("5", "quadratic", seed=3)
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
