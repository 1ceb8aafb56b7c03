"""The §3 experiments at quick size: each verdict comes from a comparison with a peer
(statsmodels, scikit-learn, NIST values) or a Monte Carlo interval; none may fail."""

from curvlab.experiments import registered, run_experiment
from curvlab.experiments.findings import Verdict


def test_sec3_quick_findings_do_not_fail():
    exps = registered(["3"])
    assert {e.name for e in exps} >= {"ols-ridge-vs-peers", "gls-vs-ols", "elastic-net-augmented"}
    verdicts = {}
    for exp in exps:
        result = run_experiment(exp, "quick", 0)
        assert result.error is None, result.error
        for f in result.findings:
            verdicts[f.ref] = f.verdict
    assert verdicts["§3.3, eq. (20)"] is Verdict.CORRECTED
    assert verdicts["§3.4, eqs. (24)–(26)"] is Verdict.CORRECTED
    assert all(v is not Verdict.FAILS for v in verdicts.values()), verdicts
