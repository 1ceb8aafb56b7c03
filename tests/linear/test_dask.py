"""Linear estimators on Dask (curvlab.linear._dask).

References: the in-memory estimators on the same rows (themselves checked against
statsmodels / scikit-learn / NIST in the other files of this folder) — coefficients and
standard errors must agree to 1e-10 relative on the threaded scheduler and on a 2-process
``dask.distributed`` LocalCluster; NIST's certified Wampler 1 for the refinement pass; a
counting block generator (every chunk counts how often it is produced) and Dask's own
scheduler callbacks for the number of passes.
"""

import collections
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
import pandas as pd  # noqa: E402
from dask.callbacks import Callback  # noqa: E402

from curvlab.dropout import DropoutRegression  # noqa: E402
from curvlab.linear import (AR1, GLS, OLS, ElasticNet, ElasticNetCV, Ridge,  # noqa: E402
                            enet_path)
from curvlab.linear._dask import fold_row_indices  # noqa: E402

from ._certified import correct_digits, wampler  # noqa: E402

RTOL = 1e-10
CHUNK = 150


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.fixture(scope="module")
def data():
    """N = 900 rows in 6 chunks: shifted columns (means up to 5) and AR(1) errors (ρ = 0.5)."""
    rng = np.random.default_rng(7)
    n, p = 900, 4
    X = rng.normal(size=(n, p)) + np.array([0.0, 1.0, 5.0, -3.0])
    u = rng.normal(size=n)
    e = np.zeros(n)
    for t in range(n):
        e[t] = (0.5 * e[t - 1] if t else 0.0) + u[t]
    y = 1.5 + X @ np.array([1.0, 2.0, -1.0, 0.5]) + e
    Y2 = np.column_stack([y, X @ np.array([0.3, 0.0, 1.0, -2.0]) + rng.normal(size=n)])
    return X, y, Y2


@pytest.fixture(scope="module")
def client():
    """One 2-worker LocalCluster of processes for the module, started and closed within bounds."""
    with dask.config.set({"distributed.comm.timeouts.connect": "60s"}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=40)
        c = distributed.Client(cluster, set_as_default=False, timeout=60)
    yield c
    c.close(timeout=30)
    cluster.close(timeout=30)


@pytest.fixture(params=["threads", "distributed"])
def scheduler(request):
    target = request.getfixturevalue("client") if request.param == "distributed" else "threads"
    with dask.config.set(scheduler=target):
        yield request.param


def _dask_xy(X, y):
    return da.from_array(X, chunks=(CHUNK, -1)), da.from_array(y, chunks=(CHUNK,) + (() if y.ndim == 1 else (-1,)))


CASES = [
    (OLS, {}, "y"), (OLS, {"fit_intercept": False}, "y"), (OLS, {"solver": "svd"}, "Y2"),
    (Ridge, {"alpha": 30.0}, "Y2"), (Ridge, {"alpha": 3.0, "fit_intercept": False}, "y"),
    (GLS, {}, "y"), (GLS, {"sigma": AR1(0.5)}, "Y2"), (GLS, {"sigma": AR1(-0.3), "fit_intercept": False}, "y"),
    (GLS, {"sigma": "ar1"}, "y"), (GLS, {"sigma": "ar1", "fit_intercept": False}, "y"),
    (ElasticNet, {"alpha": 0.02, "l1_ratio": 0.7, "tol": 1e-13, "max_iter": 100000}, "y"),
    (ElasticNet, {"lam1": 5.0, "lam2": 40.0, "tol": 1e-13, "max_iter": 100000}, "Y2"),
    (DropoutRegression, {"rate": 0.3}, "y"), (DropoutRegression, {"rate": 0.0}, "y"),
    (DropoutRegression, {"rate": 0.5, "fit_intercept": False}, "y"),
]


ON_CLUSTER = {0, 3, 6, 8, 11, 12}  # every estimator once on the 2-process cluster (time)
COMBOS = [("threads", i) for i in range(len(CASES))] + [("distributed", i) for i in sorted(ON_CLUSTER)]


@pytest.mark.parametrize("where,case", COMBOS,
                         ids=[f"{w}-{CASES[i][0].__name__}-{i}" for w, i in COMBOS])
def test_equal_to_in_memory(request, data, where, case):
    # reference: the same estimator on the NumPy rows
    target_scheduler = request.getfixturevalue("client") if where == "distributed" else "threads"
    with dask.config.set(scheduler=target_scheduler):
        _check_equal(data, case)


def _check_equal(data, case):
    cls, params, target = CASES[case]
    X, y, Y2 = data
    Y = y if target == "y" else Y2
    ref = cls(**params).fit(X, Y)
    m = cls(**params).fit(*_dask_xy(X, Y))
    assert _rel(m.coef_, ref.coef_) < RTOL
    assert _rel(m.intercept_, ref.intercept_) < RTOL or not m.fit_intercept
    if hasattr(ref, "bse_"):
        assert _rel(m.bse_, ref.bse_) < RTOL
        assert _rel(m.pvalues_, ref.pvalues_) < 1e-8
        assert _rel(m.conf_int(), ref.conf_int()) < RTOL
        assert _rel(m.rsquared_, ref.rsquared_) < RTOL
        assert m.df_resid_ == ref.df_resid_
        if np.ndim(m.params_) == 1:
            assert m.summary().splitlines()[2:] == ref.summary().splitlines()[2:]
    if hasattr(ref, "rho_"):
        assert abs(m.rho_ - ref.rho_) < 1e-12 and m.n_iter_ == ref.n_iter_
    # predict / score: lazy Dask results equal to the in-memory ones
    Xd, Yd = _dask_xy(X, Y)
    pred, r2 = m.predict(Xd), m.score(Xd, Yd)
    assert isinstance(pred, da.Array) and isinstance(r2, da.Array) and r2.shape == ()
    assert _rel(pred.compute(), ref.predict(X)) < RTOL
    assert abs(float(r2.compute()) - ref.score(X, Y)) < 1e-12


def test_enet_cv_and_path(scheduler, data):
    # reference: in-memory ElasticNetCV with the same folds (whole chunks), in-memory enet_path
    X, y, _ = data
    Xd, yd = _dask_xy(X, y)
    kw = dict(l1_ratio=[0.3, 0.9], n_alphas=8, tol=1e-13, max_iter=100000)
    m = ElasticNetCV(cv=3, **kw).fit(Xd, yd)
    ref = ElasticNetCV(cv=fold_row_indices(Xd.chunks[0], 3), **kw).fit(X, y)
    assert (m.alpha_, m.l1_ratio_) == pytest.approx((ref.alpha_, ref.l1_ratio_), rel=1e-12)
    assert _rel(m.mse_path_, ref.mse_path_) < RTOL
    assert _rel(m.coef_, ref.coef_) < RTOL and _rel(m.intercept_, ref.intercept_) < RTOL
    assert m.n_passes_ == 1
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    got = enet_path(*_dask_xy(Xc, yc), l1_ratio=0.5, n_alphas=6, tol=1e-13, max_iter=100000)
    want = enet_path(Xc, yc, l1_ratio=0.5, n_alphas=6, tol=1e-13, max_iter=100000)
    assert _rel(got[0], want[0]) < 1e-12
    np.testing.assert_allclose(got[1], want[1], rtol=RTOL, atol=1e-12 * np.abs(want[1]).max())


def test_dataframe_input(scheduler, data):
    # reference: in-memory OLS / Ridge on the same rows; feature names kept, y a Series or frame
    X, y, Y2 = data
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=y, y2=Y2[:, 1])
    ddf = dd.from_pandas(df, npartitions=5)
    feats = ["a", "b", "c", "d"]
    m = OLS().fit(ddf[feats], ddf["y"])
    ref = OLS().fit(df[feats], y)
    assert _rel(m.params_, ref.params_) < RTOL and _rel(m.bse_, ref.bse_) < RTOL
    assert list(m.feature_names_in_) == feats
    assert _rel(m.predict(ddf[feats]).compute(), ref.predict(df[feats])) < RTOL
    r = Ridge(alpha=2.0).fit(ddf[feats], ddf[["y", "y2"]])
    assert _rel(r.coef_, Ridge(alpha=2.0).fit(X, df[["y", "y2"]].to_numpy()).coef_) < RTOL
    with pytest.raises(ValueError, match="columns"):
        m.predict(ddf[["b", "a", "c", "d"]])


class _Count(Callback):
    """Counts graph executions on the local schedulers (dask's callback hook)."""

    def __init__(self):
        super().__init__()
        self.runs = 0

    def _start(self, dsk):
        self.runs += 1


def _counting(X, y, chunk=CHUNK):
    """Dask X, y whose chunks are generated on demand; ``calls[i]`` = times chunk i was made."""
    calls = collections.Counter()
    rows = tuple(min(chunk, len(X) - s) for s in range(0, len(X), chunk))
    starts = np.concatenate([[0], np.cumsum(rows)])

    def make(block_id=None):
        i = block_id[0]
        calls[i] += 1
        return np.hstack([X, y.reshape(len(y), -1)])[starts[i]:starts[i + 1]]

    Z = da.map_blocks(make, chunks=(rows, (X.shape[1] + 1,)), dtype=float, meta=np.empty((0, 0)))
    return Z[:, :-1], Z[:, -1], calls


@pytest.mark.parametrize("est,passes", [
    (OLS(), 1), (GLS(), 1), (GLS(sigma=AR1(0.4)), 1), (GLS(sigma="ar1"), 2), (Ridge(), 1),
    (ElasticNet(alpha=0.1), 1), (ElasticNetCV(cv=3, n_alphas=5), 1), (DropoutRegression(), 1),
], ids=lambda v: type(v).__name__ + (f"-{v.sigma}" if isinstance(v, GLS) else "") if not isinstance(v, int) else str(v))
def test_passes(data, est, passes):
    # reference: every chunk is produced exactly `passes` times; Dask ran `passes` graphs
    X, y, _ = data
    Xd, yd, calls = _counting(X, y)
    with dask.config.set(scheduler="threads"), _Count() as count:
        est.fit(Xd, yd)
    assert est.n_passes_ == passes == count.runs
    assert sorted(calls) == list(range(6)) and set(calls.values()) == {passes}
    calls.clear()
    pred = est.predict(Xd)  # lazy: nothing generated yet
    assert not calls and isinstance(pred, da.Array)


def test_enet_path_one_pass(data):
    X, y, _ = data
    Xd, yd, calls = _counting(X, y)
    with _Count() as count:
        enet_path(Xd, yd, n_alphas=4)
    assert count.runs == 1 and set(calls.values()) == {1}


def test_refinement_pass_on_wampler(scheduler):
    # reference: NIST StRD Wampler 1 certified coefficients (all 1). κ(X_cD⁻¹)² > 10⁶ asks for
    # the extended-precision refinement pass; without it the normal equations keep < 8 digits.
    X, y, exact = wampler(1)
    Xd, yd = da.from_array(X, chunks=(7, -1)), da.from_array(y, chunks=7)
    m = OLS(solver="cholesky").fit(Xd, yd)
    assert m.n_passes_ == 2
    assert correct_digits(m.params_, exact).min() >= 9.5
    one = OLS(solver="cholesky").fit_chunks((X, y), chunk_size=7, refine=False)
    assert one.n_passes_ == 1 and correct_digits(one.params_, exact).min() < 8
    two = OLS(solver="cholesky").fit_chunks((X, y), chunk_size=7)
    assert two.n_passes_ == 2 and _rel(two.params_, m.params_) < 1e-12


def test_collinear_design_takes_the_qr_pass(data):
    # reference: in-memory OLS (minimum-norm solution and RankDeficiencyWarning)
    from curvlab.linear import RankDeficiencyWarning

    X, y, _ = data
    Xc = np.column_stack([X, X[:, 0] - 2.0 * X[:, 1]])  # exactly collinear
    with pytest.warns(RankDeficiencyWarning):
        ref = OLS().fit(Xc, y)
    with pytest.warns(RankDeficiencyWarning):
        m = OLS().fit(*_dask_xy(Xc, y))
    assert m.n_passes_ == 2 and m.rank_ == ref.rank_  # Gram rejected, then the TSQR pass
    assert _rel(m.coef_, ref.coef_) < 1e-9 and _rel(m.bse_, ref.bse_) < 1e-9


def test_fit_chunks_and_dask_share_the_reduction(data):
    # reference: in-memory OLS; fit_chunks (iterator and arrays) and Dask give the same numbers
    X, y, _ = data
    ref = OLS().fit(X, y)
    it = OLS().fit_chunks(((X[i:i + CHUNK], y[i:i + CHUNK]) for i in range(0, len(X), CHUNK)))
    arr = OLS(solver="svd").fit_chunks((X, y), chunk_size=CHUNK)
    dk = OLS().fit(*_dask_xy(X, y))
    for m in (it, arr, dk):
        assert _rel(m.params_, ref.params_) < RTOL and _rel(m.bse_, ref.bse_) < RTOL
    assert _rel(it.params_, dk.params_) < RTOL


# ------------------------------------------------------------------ bad input
def test_bad_input_before_any_work(data):
    X, y, _ = data
    Xd, yd, calls = _counting(X, y)
    cases = [
        (lambda: OLS().fit(Xd.rechunk({1: 2}), yd), ValueError, r"rechunk X as X.rechunk\(\{1: -1\}\)"),
        (lambda: OLS().fit(Xd[Xd[:, 0] > 0], yd), ValueError, "compute_chunk_sizes"),
        (lambda: OLS().fit(Xd, yd.rechunk(100)), ValueError, r"rechunk y to match X"),
        (lambda: Ridge().fit(Xd, yd, sample_weight=np.ones(len(y))), TypeError, "sample_weight"),
        (lambda: GLS(sigma=np.ones(len(y))).fit(Xd, yd), TypeError, "AR1"),
        (lambda: DropoutRegression(solver="sampled").fit(Xd, yd), ValueError, "marginalized"),
        (lambda: ElasticNetCV(cv=10).fit(Xd, yd), ValueError, "at least 10 row chunks"),
        (lambda: ElasticNetCV(cv=[(np.arange(5), np.arange(5, 9))]).fit(Xd, yd), TypeError, "whole row chunks"),
        (lambda: OLS().fit(Xd[:, 0], yd), ValueError, "2-D"),
        (lambda: OLS(solver="lu").fit(Xd, yd), ValueError, "solver must be one of"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()
    assert not calls  # every error came before a chunk was made
    m = OLS().fit(X, y)
    with pytest.raises(ValueError, match=r"X.rechunk\(\{1: -1\}\)"):
        m.predict(Xd.rechunk({1: 2}))
    with pytest.raises(ValueError, match="3 features"):
        m.predict(Xd[:, :3])


def test_empty_partitions(data):
    # reference: in-memory OLS / Ridge on the non-empty rows; empty partitions (after a filter)
    # contribute nothing; AR(1) whitening names the empty chunk
    X, y, _ = data
    df = pd.DataFrame(X, columns=list("abcd")).assign(y=y, t=np.arange(len(y)))
    ddf = dd.from_pandas(df, npartitions=6)
    kept = ddf[(ddf["t"] < 150) | (ddf["t"] >= 300)]  # partition 1 becomes empty
    rows = np.r_[0:150, 300:900]
    for est in (OLS(), Ridge(alpha=2.0)):
        m = est.fit(kept[list("abcd")], kept["y"])
        ref = type(est)(**est.get_params()).fit(X[rows], y[rows])
        assert _rel(m.coef_, ref.coef_) < RTOL
    with pytest.raises(ValueError, match="row chunk 1 is empty"):
        GLS(sigma=AR1(0.5)).fit(kept[list("abcd")], kept["y"])


def test_bad_input_dataframes(data):
    X, y, _ = data
    df = pd.DataFrame(X, columns=list("abcd")).assign(y=y, s="x")
    ddf = dd.from_pandas(df, npartitions=4)
    with pytest.raises(TypeError, match=r"numeric columns only; \['s'\]"):
        OLS().fit(ddf[["a", "s"]], ddf["y"])
    with pytest.raises(ValueError, match="partition them alike"):
        OLS().fit(ddf[list("abcd")], dd.from_pandas(df["y"], npartitions=3))
    with pytest.raises(TypeError, match="Dask Series"):
        OLS().fit(ddf[list("abcd")], y)


def test_nan_in_a_chunk_names_argument_and_chunk(data):
    X, y, _ = data
    Xn = X.copy()
    Xn[400, 2] = np.nan  # row 400 lies in chunk 2 (rows 300–449)
    m = OLS()
    with pytest.raises(ValueError, match=r"X contains NaN or infinity in row chunk 2 \(rows 300–449\)"):
        m.fit(*_dask_xy(Xn, y))
    assert not hasattr(m, "coef_") and not hasattr(m, "n_passes_")  # left as it was
    yn = y.copy()
    yn[-1] = np.inf
    with pytest.raises(ValueError, match="y contains NaN or infinity in row chunk 5"):
        GLS(sigma="ar1").fit(*_dask_xy(X, yn))


def test_nan_on_the_cluster(client, data):
    # the worker's ValueError reaches the caller unchanged
    X, y, _ = data
    Xn = X.copy()
    Xn[10, 0] = np.nan
    with dask.config.set(scheduler=client), pytest.raises(ValueError, match="row chunk 0"):
        Ridge().fit(*_dask_xy(Xn, y))


def test_without_dask_a_clear_message(monkeypatch):
    # simulated absence: the import fails; a Dask-looking input names the extra
    class FakeDask:
        def __dask_graph__(self):
            return {}

    for mod in ("dask", "dask.array", "dask.dataframe"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match=r"curvlab\[dask\]"):
        OLS().fit(FakeDask(), np.ones(3))
    with pytest.raises(ImportError, match=r"curvlab\[dask\]"):
        enet_path(np.ones((3, 2)), FakeDask())


def test_everything_imports_without_dask():
    # a fresh interpreter in which `import dask` fails: curvlab.linear / dropout import and fit
    code = textwrap.dedent("""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("dask", "distributed", "dask_expr"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import numpy as np
        from curvlab.linear import OLS, Ridge, GLS, ElasticNet, enet_path
        from curvlab.dropout import DropoutRegression
        X = np.random.default_rng(0).normal(size=(50, 3)); y = X @ [1.0, 2.0, 3.0] + 1.0
        assert abs(OLS().fit(X, y).coef_[2] - 3.0) < 1e-9
        assert abs(OLS().fit_chunks((X, y), chunk_size=7).coef_[1] - 2.0) < 1e-9
        Ridge().fit(X, y).predict(X); DropoutRegression().fit(X, y).score(X, y)
        assert not any(m.split(".")[0] == "dask" for m in sys.modules)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_gls_ar1_whitening_crosses_chunks(data):
    # reference: in-memory GLS; chunks of 1, 2 and uneven rows stress the one-row overlap
    X, y, _ = data
    X, y = X[:40], y[:40]
    ref = GLS(sigma=AR1(0.7)).fit(X, y)
    for chunks in [(1,) * 40, (2,) * 20, (3, 17, 1, 19)]:
        m = GLS(sigma=AR1(0.7)).fit(da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=(chunks,)))
        assert _rel(m.params_, ref.params_) < RTOL and _rel(m.bse_, ref.bse_) < RTOL
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = GLS(sigma="ar1").fit(da.from_array(X, chunks=((3, 17, 1, 19), -1)), da.from_array(y, chunks=((3, 17, 1, 19),)))
    fr = GLS(sigma="ar1").fit(X, y)
    assert abs(f.rho_ - fr.rho_) < 1e-12 and _rel(f.params_, fr.params_) < RTOL
