"""Bad-input table for ``curvlab.linear`` and ``curvlab.dropout`` (issue #15).

Every public name of both packages gets the classes of bad input that apply to it: NaN,
inf, empty, one row, wrong shapes and dimensions, strings, complex values (which must never
lose their imaginary part silently), mismatched lengths, bad sample weights, out-of-range
parameters, non-SPD covariances, predicting with the wrong columns, and training that
diverges or stops early. Each case states the exception (and a regex naming the argument
and, where there is one, the fix), or the warning plus a check that the result is well
defined.

``NOT_ENTRY_POINTS``: public names that take no user input (a warning class, result
records); the runner should accept them without cases.
"""

from __future__ import annotations

import numpy as np

try:
    from ._case import Case
except ImportError:  # loaded by file path, outside the tests.fuzz package
    import importlib.util
    import pathlib
    import sys

    _name = "curvlab_fuzz_case"
    if _name not in sys.modules:
        _spec = importlib.util.spec_from_file_location(_name, pathlib.Path(__file__).with_name("_case.py"))
        sys.modules[_name] = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules[_name])
    Case = sys.modules[_name].Case

import curvlab.dropout as D
import curvlab.linear as L

NOT_ENTRY_POINTS = {
    "curvlab.linear.RankDeficiencyWarning": "a warning category",
    "curvlab.linear.KruskalResult": "the record ols_equals_gls returns",
    "curvlab.dropout.SampledResult": "the record fit_sampled returns",
}

_rng = np.random.default_rng(0)
X = _rng.normal(size=(12, 3))                       # (12, 3) clean design
y = X @ [1.0, -2.0, 0.5] + 0.1 * _rng.normal(size=12)
y01 = (y > np.median(y)).astype(int)                # binary labels for the classifier


def _with(a, index, value):
    a = np.array(a, dtype=complex if isinstance(value, complex) else float)
    a[index] = value
    return a


X_nan, X_inf = _with(X, (2, 1), np.nan), _with(X, (0, 0), np.inf)
y_nan = _with(y, 3, np.nan)
X_complex, y_complex = X + 1j, y + 0.5j
X_str = X.astype(str)
X_str[0, 0] = "abc"
SPD_BAD = np.eye(12)
SPD_BAD[0, 0] = -1.0                                 # symmetric, not positive definite

_REGRESSORS = {
    "OLS": lambda: L.OLS(),
    "GLS": lambda: L.GLS(),
    "Ridge": lambda: L.Ridge(alpha=0.5),
    "ElasticNet": lambda: L.ElasticNet(alpha=0.01),
    "ElasticNetCV": lambda: L.ElasticNetCV(cv=3, n_alphas=5),
    "DropoutRegression": lambda: D.DropoutRegression(),
}
_CLASSIFIERS = {"DropoutLogisticRegression": lambda: D.DropoutLogisticRegression()}


def _fit(make, Xa, ya, **kw):
    return lambda: make().fit(Xa, ya, **kw)


def _fitted(make, target):
    return make().fit(X, target)


def _estimator_cases(pkg: str, name: str, make, target) -> list[Case]:
    t = f"curvlab.{pkg}.{name}"
    fit = f"{t}.fit"
    out = [
        Case(fit, "nan", _fit(make, X_nan, target), match=r"X .*contains NaN.*impute"),
        Case(fit, "inf", _fit(make, X_inf, target), match=r"X .*contains infinity.*impute"),
        Case(fit, "empty", _fit(make, X[:0], target[:0]), match=r"X .*0 sample"),
        Case(fit, "one_row", _fit(make, X[:1], target[:1]), match=r"X .*1 sample.*at least 2"),
        Case(fit, "shape", _fit(make, X[:, :, None], target), match=r"X .*must be 2-D.*3-D"),
        Case(fit, "shape", _fit(make, X, target[:-1]), match=r"y has 11 rows but X has 12"),
        Case(fit, "shape", _fit(make, X[:, 0], target), match=r"X .*Reshape your data"),
        Case(fit, "dtype", _fit(make, X_str, target), match=r"X .*must be numeric.*[Ee]ncode"),
        Case(fit, "complex", _fit(make, X_complex, target), match=r"X has complex values.*real"),
        Case(fit, "complex", _fit(make, X, target + 0.5j), match=r"y has complex values"),
        Case(fit, "none", _fit(make, X, None), match=r"y .*is None"),
        Case(f"{t}.predict", "not_fitted", lambda: make().predict(X), match=r"not fitted.*fit"),
        Case(f"{t}.predict", "shape", lambda: _fitted(make, target).predict(X[:, :2]),
             match=r"X has 2 features.*same columns"),
        Case(f"{t}.predict", "nan", lambda: _fitted(make, target).predict(X_nan),
             match=r"X .*contains NaN"),
        Case(f"{t}.predict", "complex", lambda: _fitted(make, target).predict(X_complex),
             match=r"X has complex values"),
        Case(f"{t}.predict", "shape", lambda: _fitted(make, target).predict(X[0]),
             match=r"X .*Reshape your data"),
        Case(f"{t}.score", "nan", lambda: _fitted(make, target).score(X, y_nan),
             match=r"y .*NaN"),
        Case(f"{t}.score", "shape", lambda: _fitted(make, target).score(X, target[:5]),
             match=r"(inconsistent numbers of samples|y has 5 rows)"),
    ]
    if name not in ("ElasticNetCV",):  # ElasticNetCV.fit has no sample_weight
        out += [
            Case(fit, "shape", _fit(make, X, target, sample_weight=np.ones(5)),
                 match=r"sample_weight must have one weight per row"),
            Case(fit, "range", _fit(make, X, target, sample_weight=-np.ones(12)),
                 match=r"sample_weight must be non-negative"),
            Case(fit, "nan", _fit(make, X, target, sample_weight=_with(np.ones(12), 0, np.nan)),
                 match=r"sample_weight contains NaN"),
            Case(fit, "complex", _fit(make, X, target, sample_weight=np.ones(12) + 1j),
                 match=r"sample_weight has complex values"),
            Case(fit, "range", _fit(make, X, target, sample_weight=np.zeros(12)),
                 match=r"sample_weight sums to zero"),
        ]
    return out


CASES: list[Case] = []
for _name, _make in _REGRESSORS.items():
    CASES += _estimator_cases("linear" if _name != "DropoutRegression" else "dropout", _name,
                              _make, y)
    CASES.append(Case(f"curvlab.{'linear' if _name != 'DropoutRegression' else 'dropout'}.{_name}.fit",
                      "nan", _fit(_make, X, y_nan), match=r"y .*contains NaN"))
CASES += _estimator_cases("dropout", "DropoutLogisticRegression",
                          _CLASSIFIERS["DropoutLogisticRegression"], y01)

_B = "curvlab.linear"
CASES += [
    # ------------------------------------------------------------------ parameters
    Case(f"{_B}.OLS.fit", "range", lambda: L.OLS(solver="lu").fit(X, y), match=r"solver must be one of"),
    Case(f"{_B}.Ridge.fit", "range", lambda: L.Ridge(alpha=-1.0).fit(X, y), match=r"alpha must be"),
    Case(f"{_B}.Ridge.fit", "dtype", lambda: L.Ridge(alpha="big").fit(X, y), match=r"alpha must be a real"),
    Case(f"{_B}.ElasticNet.fit", "range", lambda: L.ElasticNet(l1_ratio=1.5).fit(X, y), match=r"l1_ratio"),
    Case(f"{_B}.ElasticNet.fit", "range", lambda: L.ElasticNet(max_iter=0).fit(X, y), match=r"max_iter"),
    Case(f"{_B}.ElasticNetCV.fit", "range", lambda: L.ElasticNetCV(l1_ratio=0.0).fit(X, y), match=r"l1_ratio"),
    Case(f"{_B}.GLS.fit", "not_spd", lambda: L.GLS(sigma=SPD_BAD).fit(X, y),
         match=r"sigma .*positive definite"),
    Case(f"{_B}.GLS.fit", "complex", lambda: L.GLS(sigma=np.eye(12) * (1 + 1j)).fit(X, y),
         match=r"sigma has complex values"),
    Case(f"{_B}.GLS.fit", "shape", lambda: L.GLS(sigma=np.eye(5)).fit(X, y), match=r"sigma is 5×5"),
    Case(f"{_B}.GLS.fit", "range", lambda: L.GLS(sigma="ar2").fit(X, y), match=r"sigma"),
    Case(f"{_B}.GLS.fit", "nan", lambda: L.GLS(sigma=_with(np.ones(12), 2, np.nan)).fit(X, y),
         match=r"sigma .*NaN"),
    Case(f"{_B}.OLS.conf_int", "range", lambda: L.OLS().fit(X, y).conf_int(alpha=1.5), match=r"alpha"),
    Case(f"{_B}.OLS.summary", "shape", lambda: L.OLS().fit(X, y).summary(names=["a"]),
         match=r"names must have 4 entries"),
    Case(f"{_B}.GLS.conf_int", "range", lambda: L.GLS().fit(X, y).conf_int(alpha=0.0), match=r"alpha"),
    Case(f"{_B}.GLS.summary", "shape", lambda: L.GLS().fit(X, y).summary(names=["a"]), match=r"names"),
    Case(f"{_B}.OLS.fit", "one_row", lambda: L.OLS().fit(X[:2], y[:2]),
         raises=None, warns=L.RankDeficiencyWarning, check=lambda m: np.all(np.isfinite(m.coef_))),
    Case(f"{_B}.OLS.fit", "range", lambda: L.OLS().fit(np.column_stack([X, X[:, 0]]), y),
         raises=None, warns=L.RankDeficiencyWarning, check=lambda m: np.all(np.isfinite(m.coef_))),
    # ------------------------------------------------------------------ fit_chunks
    Case(f"{_B}.OLS.fit_chunks", "complex", lambda: L.OLS().fit_chunks([(X_complex, y)]),
         match=r"X block 0 has complex values"),
    Case(f"{_B}.OLS.fit_chunks", "complex", lambda: L.OLS().fit_chunks((X, y_complex)),
         match=r"y block 0 has complex values"),
    Case(f"{_B}.OLS.fit_chunks", "nan", lambda: L.OLS().fit_chunks([(X_nan, y)]), match=r"X block 0 .*NaN"),
    Case(f"{_B}.OLS.fit_chunks", "empty", lambda: L.OLS().fit_chunks([]), match=r"chunks is empty"),
    Case(f"{_B}.OLS.fit_chunks", "shape", lambda: L.OLS().fit_chunks([(X, y), (X[:, :2], y)]),
         match=r"block 1: X has 2 columns"),
    Case(f"{_B}.OLS.fit_chunks", "shape", lambda: L.OLS().fit_chunks([(X, y[:5])]), match=r"block 0"),
    Case(f"{_B}.OLS.fit_chunks", "dtype", lambda: L.OLS().fit_chunks(42), match=r"chunks must be"),
    Case(f"{_B}.OLS.fit_chunks", "range", lambda: L.OLS().fit_chunks((X, y), chunk_size=0),
         match=r"chunk_size"),
    # ------------------------------------------------------------------ functions
    Case(f"{_B}.enet_path", "complex", lambda: L.enet_path(X_complex, y), match=r"X has complex values"),
    Case(f"{_B}.enet_path", "complex", lambda: L.enet_path(X, y_complex), match=r"y has complex values"),
    Case(f"{_B}.enet_path", "nan", lambda: L.enet_path(X_nan, y), match=r"X contains NaN"),
    Case(f"{_B}.enet_path", "shape", lambda: L.enet_path(X, y[:4]), match=r"same number of rows"),
    Case(f"{_B}.enet_path", "range", lambda: L.enet_path(X, y, l1_ratio=2.0), match=r"l1_ratio"),
    Case(f"{_B}.enet_path", "range", lambda: L.enet_path(X, y, alphas=[-1.0]), match=r"alphas must be >= 0"),
    Case(f"{_B}.enet_path", "empty", lambda: L.enet_path(X[:0], y[:0]), match=r"X is empty"),
    Case(f"{_B}.enet_objective", "complex",
         lambda: L.enet_objective(X, y, np.ones(3) * 1j, 0.0, 0.1, 0.1), match=r"coef has complex values"),
    Case(f"{_B}.enet_objective", "nan", lambda: L.enet_objective(X_nan, y, np.ones(3), 0.0, 0.1, 0.1),
         match=r"X contains NaN"),
    Case(f"{_B}.enet_objective", "range", lambda: L.enet_objective(X, y, np.ones(3), 0.0, -0.1, 0.1),
         match=r"lam1"),
    Case(f"{_B}.enet_objective", "shape", lambda: L.enet_objective(X, y, np.ones(2), 0.0, 0.1, 0.1),
         match=r"coef"),
    Case(f"{_B}.notes_to_sklearn", "range", lambda: L.notes_to_sklearn(0.1, 0.1, 0), match=r"n_samples"),
    Case(f"{_B}.notes_to_sklearn", "range", lambda: L.notes_to_sklearn(-0.1, 0.1, 10), match=r"lam1"),
    Case(f"{_B}.sklearn_to_notes", "range", lambda: L.sklearn_to_notes(0.1, 1.5, 10), match=r"l1_ratio"),
    Case(f"{_B}.sklearn_to_notes", "nan", lambda: L.sklearn_to_notes(np.nan, 0.5, 10), match=r"alpha"),
    Case(f"{_B}.ols_equals_gls", "complex", lambda: L.ols_equals_gls(X, np.eye(12) + 1j),
         match=r"Sigma has complex values"),
    Case(f"{_B}.ols_equals_gls", "complex", lambda: L.ols_equals_gls(X_complex, np.eye(12)),
         match=r"X has complex values"),
    Case(f"{_B}.ols_equals_gls", "not_spd", lambda: L.ols_equals_gls(X, SPD_BAD),
         match=r"Sigma .*positive definite"),
    Case(f"{_B}.ols_equals_gls", "shape", lambda: L.ols_equals_gls(X, np.eye(4)), match=r"Sigma"),
    Case(f"{_B}.ols_equals_gls", "nan", lambda: L.ols_equals_gls(X_nan, np.eye(12)), match=r"X contains NaN"),
    Case(f"{_B}.ols_equals_gls", "range", lambda: L.ols_equals_gls(X, np.eye(12), tol=-1.0), match=r"tol"),
    Case(f"{_B}.FullCovariance", "not_spd", lambda: L.FullCovariance(SPD_BAD), match=r"sigma .*positive definite"),
    Case(f"{_B}.FullCovariance", "complex", lambda: L.FullCovariance(np.eye(3) * 1j), match=r"sigma has complex"),
    Case(f"{_B}.FullCovariance", "shape", lambda: L.FullCovariance(np.ones((2, 3))), match=r"square"),
    Case(f"{_B}.FullCovariance", "nan", lambda: L.FullCovariance(_with(np.eye(3), (0, 0), np.nan)),
         match=r"sigma contains NaN"),
    Case(f"{_B}.DiagonalCovariance", "range", lambda: L.DiagonalCovariance([1.0, -1.0]), match=r"must be > 0"),
    Case(f"{_B}.DiagonalCovariance", "complex", lambda: L.DiagonalCovariance([1.0, 1j]), match=r"complex"),
    Case(f"{_B}.DiagonalCovariance", "empty", lambda: L.DiagonalCovariance([]), match=r"empty"),
    Case(f"{_B}.AR1", "range", lambda: L.AR1(1.5), match=r"rho"),
    Case(f"{_B}.AR1", "nan", lambda: L.AR1(np.nan), match=r"rho"),
    Case(f"{_B}.AR1", "complex", lambda: L.AR1(0.5j), match=r"rho"),
    Case(f"{_B}.AR1.whiten", "shape", lambda: L.AR1(0.5).whiten(np.ones((2, 2, 2))), match=r"A"),
    Case(f"{_B}.hat_matrix", "complex", lambda: L.hat_matrix(X_complex), match=r"X has complex values"),
    Case(f"{_B}.hat_matrix", "shape", lambda: L.hat_matrix(X.T), match=r"at least as many rows"),
    Case(f"{_B}.hat_matrix", "nan", lambda: L.hat_matrix(X_nan), match=r"X contains NaN"),
    Case(f"{_B}.residual_trace", "empty", lambda: L.residual_trace(X[:0]), match=r"X is empty"),
    Case(f"{_B}.residual_trace", "complex", lambda: L.residual_trace(X_complex), match=r"X has complex"),
    Case(f"{_B}.training_error", "shape", lambda: L.training_error(X, y[:3]), match=r"y must have one entry"),
    Case(f"{_B}.training_error", "complex", lambda: L.training_error(X, y_complex), match=r"y has complex"),
    Case(f"{_B}.training_error", "nan", lambda: L.training_error(X, y_nan), match=r"y contains NaN"),
    Case(f"{_B}.expected_training_error", "range", lambda: L.expected_training_error(3, 5, 1.0),
         match=r"d must be <= N"),
    Case(f"{_B}.expected_training_error", "range", lambda: L.expected_training_error(10, 2, -1.0),
         match=r"sigma2"),
    Case(f"{_B}.expected_training_error", "dtype", lambda: L.expected_training_error(10.5, 2, 1.0),
         match=r"N must be an integer"),
]

_D = "curvlab.dropout"
w3 = np.array([0.5, -1.0, 2.0])
CASES += [
    Case(f"{_D}.DropoutRegression.fit", "range", lambda: D.DropoutRegression(rate=1.0).fit(X, y),
         match=r"rate must lie in \[0.0, 1.0\).*rate = 1 - p"),
    Case(f"{_D}.DropoutRegression.fit", "range", lambda: D.DropoutRegression(kind="uniform").fit(X, y),
         match=r"kind must be one of"),
    Case(f"{_D}.DropoutRegression.fit", "range", lambda: D.DropoutRegression(solver="sampled",
         lr=-1.0).fit(X, y), match=r"lr must be finite and > 0"),
    Case(f"{_D}.DropoutRegression.fit", "fault",
         lambda: D.DropoutRegression(solver="sampled", lr=50.0, lr_schedule="constant").fit(X, y),
         raises=FloatingPointError, match=r"diverged.*pass a smaller lr"),
    Case(f"{_D}.DropoutRegression.fit", "fault",
         lambda: D.DropoutRegression(solver="sampled", max_iter=2, lr=1e-4).fit(X, y),
         raises=None, warns=__import__("sklearn.exceptions").exceptions.ConvergenceWarning,
         check=lambda m: np.all(np.isfinite(m.coef_))),
    Case(f"{_D}.DropoutRegression.expected_loss", "nan",
         lambda: D.DropoutRegression().fit(X, y).expected_loss(X, y_nan), match=r"y .*NaN"),
    Case(f"{_D}.DropoutRegression.expected_loss", "range",
         lambda: D.DropoutRegression().fit(X, y).expected_loss(X, y, sample_weight=np.zeros(12)),
         match=r"sample_weight sums to zero"),
    Case(f"{_D}.DropoutRegression.expected_loss", "shape",
         lambda: D.DropoutRegression().fit(X, y).expected_loss(X[:, :2], y), match=r"X has 2 features"),
    Case(f"{_D}.DropoutLogisticRegression.fit", "range",
         lambda: D.DropoutLogisticRegression(rate=-0.1).fit(X, y01), match=r"rate must lie"),
    Case(f"{_D}.DropoutLogisticRegression.fit", "range",
         lambda: D.DropoutLogisticRegression().fit(X, np.arange(12) % 3), match=r"binary"),
    Case(f"{_D}.DropoutLogisticRegression.fit", "range",
         lambda: D.DropoutLogisticRegression(tol=0.0).fit(X, y01), match=r"tol must be"),
    Case(f"{_D}.DropoutLogisticRegression.fit", "nan",
         lambda: D.DropoutLogisticRegression().fit(X, _with(y01, 0, np.nan)), match=r"y .*NaN"),
    Case(f"{_D}.DropoutLogisticRegression.fit", "fault",
         lambda: D.DropoutLogisticRegression(solver="sampled", lr=1e32, lr_schedule="constant").fit(X, y01),
         raises=FloatingPointError, match=r"diverged.*pass a smaller lr"),
    Case(f"{_D}.DropoutLogisticRegression.predict_proba", "nan",
         lambda: D.DropoutLogisticRegression().fit(X, y01).predict_proba(X_nan), match=r"X .*NaN"),
    Case(f"{_D}.DropoutLogisticRegression.predict_proba", "shape",
         lambda: D.DropoutLogisticRegression().fit(X, y01).predict_proba(X[:, :1]), match=r"X has 1 feature"),
    Case(f"{_D}.DropoutLogisticRegression.decision_function", "complex",
         lambda: D.DropoutLogisticRegression().fit(X, y01).decision_function(X_complex),
         match=r"X has complex values"),
    Case(f"{_D}.DropoutLogisticRegression.decision_function", "not_fitted",
         lambda: D.DropoutLogisticRegression().decision_function(X), match=r"not fitted"),
    # ------------------------------------------------------------------ functions
    Case(f"{_D}.fit_sampled", "nan", lambda: D.fit_sampled(X_nan, y, 0.2), match=r"X contains NaN"),
    Case(f"{_D}.fit_sampled", "complex", lambda: D.fit_sampled(X, y_complex, 0.2), match=r"y has complex"),
    Case(f"{_D}.fit_sampled", "shape", lambda: D.fit_sampled(X, y[:3], 0.2), match=r"y must have one entry"),
    Case(f"{_D}.fit_sampled", "range", lambda: D.fit_sampled(X, y, 1.2), match=r"rate must lie"),
    Case(f"{_D}.fit_sampled", "range", lambda: D.fit_sampled(X, y, 0.2, epochs=0), match=r"epochs"),
    Case(f"{_D}.fit_sampled", "range", lambda: D.fit_sampled(X, y, 0.2, loss="hinge"), match=r"loss"),
    Case(f"{_D}.fit_sampled", "range", lambda: D.fit_sampled(X, y, 0.2, sample_weight=-np.ones(12)),
         match=r"sample_weight must be non-negative"),
    Case(f"{_D}.fit_sampled", "fault", lambda: D.fit_sampled(X, y, 0.2, lr=50.0, lr_schedule="constant"),
         raises=FloatingPointError, match=r"diverged"),
    Case(f"{_D}.fit_marginalized", "nan", lambda: D.fit_marginalized(X_nan, y, 1.0), match=r"X contains NaN"),
    Case(f"{_D}.fit_marginalized", "complex", lambda: D.fit_marginalized(X_complex, y, 1.0),
         match=r"X has complex"),
    Case(f"{_D}.fit_marginalized", "range", lambda: D.fit_marginalized(X, y, -1.0), match=r"sigma2"),
    Case(f"{_D}.fit_marginalized", "shape", lambda: D.fit_marginalized(X, y[:4], 1.0),
         match=r"y must have one entry"),
    Case(f"{_D}.dropout_energy", "complex", lambda: D.dropout_energy(X_complex), match=r"X has complex"),
    Case(f"{_D}.dropout_energy", "nan", lambda: D.dropout_energy(X_nan), match=r"X contains NaN"),
    Case(f"{_D}.dropout_energy", "shape", lambda: D.dropout_energy(X, np.ones(3)), match=r"sample_weight"),
    Case(f"{_D}.expected_dropout_gradient", "shape", lambda: D.expected_dropout_gradient(X, y, w3[:2], 1.0),
         match=r"w"),
    Case(f"{_D}.expected_dropout_gradient", "complex",
         lambda: D.expected_dropout_gradient(X, y, w3 * 1j, 1.0), match=r"w has complex"),
    Case(f"{_D}.expected_dropout_loss", "nan", lambda: D.expected_dropout_loss(X, y_nan, w3, 1.0),
         match=r"y contains NaN"),
    Case(f"{_D}.expected_dropout_loss", "range", lambda: D.expected_dropout_loss(X, y, w3, -1.0),
         match=r"sigma2"),
    Case(f"{_D}.expected_logistic_dropout_loss", "range",
         lambda: D.expected_logistic_dropout_loss(X, y01, w3, 1.0, nodes=0), match=r"nodes"),
    Case(f"{_D}.expected_logistic_dropout_loss", "complex",
         lambda: D.expected_logistic_dropout_loss(X_complex, y01, w3, 1.0), match=r"X has complex"),
    Case(f"{_D}.quadratic_dropout_penalty", "shape",
         lambda: D.quadratic_dropout_penalty(X, w3[:1], 1.0), match=r"beta"),
    Case(f"{_D}.quadratic_dropout_penalty", "nan",
         lambda: D.quadratic_dropout_penalty(X_nan, w3, 1.0), match=r"X contains NaN"),
    Case(f"{_D}.marginalized_penalty", "range", lambda: D.marginalized_penalty(X, w3, -2.0), match=r"sigma2"),
    Case(f"{_D}.marginalized_penalty", "complex", lambda: D.marginalized_penalty(X_complex, w3, 1.0),
         match=r"x has complex"),
    Case(f"{_D}.noise_variance", "range", lambda: D.noise_variance(1.0), match=r"rate must lie"),
    Case(f"{_D}.noise_variance", "dtype", lambda: D.noise_variance("0.5"), match=r"rate must be a real"),
    Case(f"{_D}.notes_expected_gradient", "shape", lambda: D.notes_expected_gradient(X, y, w3[:2], 1.0),
         match=r"w"),
    Case(f"{_D}.notes_regularized_loss", "shape",
         lambda: D.notes_regularized_loss(X[0], y[0], w3, 1.0, np.ones(2)), match=r"delta"),
    Case(f"{_D}.notes_regularized_loss", "complex",
         lambda: D.notes_regularized_loss(X[0], y[0], w3, 1.0, np.ones(3) * 1j), match=r"delta has complex"),
    Case(f"{_D}.plain_loss_gradient", "nan", lambda: D.plain_loss_gradient(X_nan, y, w3), match=r"x contains NaN"),
    Case(f"{_D}.plain_loss_gradient", "complex", lambda: D.plain_loss_gradient(X, y, w3 + 1j),
         match=r"w has complex"),
    Case(f"{_D}.rate_from_retain", "range", lambda: D.rate_from_retain(0.0), match=r"p must lie"),
    Case(f"{_D}.rate_from_retain", "dtype", lambda: D.rate_from_retain("0.8"), match=r"p must be a real"),
    Case(f"{_D}.sample_multipliers", "range",
         lambda: D.sample_multipliers(np.random.default_rng(0), (2, 2), 1.0), match=r"rate must lie"),
    Case(f"{_D}.sample_multipliers", "range",
         lambda: D.sample_multipliers(np.random.default_rng(0), (2, 2), 0.5, "uniform"), match=r"kind"),
    Case(f"{_D}.sample_multipliers", "dtype", lambda: D.sample_multipliers(0, (2, 2), 0.5), match=r"rng"),
    Case(f"{_D}.sample_multipliers", "shape",
         lambda: D.sample_multipliers(np.random.default_rng(0), (-1, 2), 0.5), match=r"shape"),
]
