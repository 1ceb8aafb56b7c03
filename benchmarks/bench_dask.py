"""Linear estimators on Dask — the targets of issue #18, side by side in one run.

    python benchmarks/bench_dask.py equal                      # (a) equal to the in-memory fits
    python benchmarks/bench_dask.py large --rows 50000000      # (b)+(d) lazily generated, 2-worker cluster
    python benchmarks/bench_dask.py daskml --rows 10000000 --cols 50   # (c) vs dask-ml, same cluster

Data with a certified answer: each chunk is generated from its own seed as X ~ N(0, 1) + column
offsets, u ~ N(0, 1), ε = u − Z(ZᵀZ)⁻¹Zᵀu for Z = [1 X_c] (ε ⊥ the chunk's columns, hence ⊥ all
columns), y = b₀ + Xβ + ε. The exact least-squares solution is then (b₀, β) itself (to ~10⁻¹⁵),
whatever the number of rows — so "correct digits" needs no second solver on all rows.

Memory: psutil samples the resident set of the benchmark process and every process below it
(the cluster's nannies and workers) every 0.1 s; CPU: user + system seconds of that tree.
All BLAS pools are pinned to one thread (the workers inherit OMP/OPENBLAS_NUM_THREADS=1).
"""

from __future__ import annotations

import argparse
import os
import threading
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import psutil  # noqa: E402

OFFSETS = np.array([0.0, 1.0, 5.0, -3.0, 2.0])


def exact_params(p: int) -> tuple[float, np.ndarray]:
    return 1.5, np.linspace(-2.0, 2.0, p)


def make_block(block_id=None, *, chunk: int, n: int, p: int, seed: int):
    """Chunk i of [X y] (m, p + 1) with the certified least-squares answer exact_params(p)."""
    i = block_id[0]
    m = min(chunk, n - i * chunk)
    rng = np.random.default_rng([seed, i])
    X = rng.standard_normal((m, p)) + np.resize(OFFSETS, p)
    u = rng.standard_normal(m)
    Z = np.hstack([np.ones((m, 1)), X])  # (m, p + 1)
    c = np.linalg.solve(Z.T @ Z, Z.T @ u)
    eps = u - Z @ c  # ⊥ [1 X_c]
    b0, beta = exact_params(p)
    return np.hstack([X, (b0 + X @ beta + eps)[:, None]])


def lazy_xy(n: int, p: int, chunk: int, seed: int = 0):
    import dask.array as da

    rows = tuple(min(chunk, n - s) for s in range(0, n, chunk))
    Z = da.map_blocks(make_block, chunk=chunk, n=n, p=p, seed=seed, chunks=(rows, (p + 1,)),
                      dtype=np.float64, meta=np.empty((0, 0)))
    return Z[:, :p], Z[:, p]


class TreeSampler:
    """Peak resident memory (sum over the process tree, and per process) and CPU seconds."""

    def __init__(self, period: float = 0.1):
        self.root = psutil.Process()
        self.period = period
        self.peak_total = 0
        self.peak_by_pid: dict[int, int] = {}
        self._stop = threading.Event()

    def _procs(self):
        return [self.root] + self.root.children(recursive=True)

    def cpu(self) -> float:
        total = 0.0
        for pr in self._procs():
            try:
                t = pr.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            total = 0
            for pr in self._procs():
                try:
                    rss = pr.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                self.peak_by_pid[pr.pid] = max(self.peak_by_pid.get(pr.pid, 0), rss)
            self.peak_total = max(self.peak_total, total)
            time.sleep(self.period)

    def __enter__(self):
        self.peak_total, self.peak_by_pid = 0, {}
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self._stop.clear()


def start_cluster(memory_limit: str):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                           dashboard_address=":0", silence_logs=40)
    return cluster, Client(cluster)


def worker_pids(client) -> list[int]:
    return list(client.run(os.getpid).values())


def digits(est, exact) -> float:
    rel = np.abs(np.asarray(est) - exact) / np.abs(exact)
    return float(np.min(-np.log10(np.maximum(rel, 1e-16))))


# ------------------------------------------------------------------------ (a)
def bench_equal(args):
    import dask
    import dask.array as da

    from curvlab.dropout import DropoutRegression
    from curvlab.linear import AR1, GLS, OLS, ElasticNet, ElasticNetCV, Ridge, enet_path
    from curvlab.linear._dask import fold_row_indices

    n, p, chunk = args.rows, 10, args.chunk
    X_d, y_d = lazy_xy(n, p, chunk, seed=1)
    X, y = dask.compute(X_d, y_d, scheduler="threads")
    Xd, yd = da.from_array(X, chunks=(chunk, -1)), da.from_array(y, chunks=chunk)
    ests = [("OLS", OLS()), ("GLS AR1(0.5)", GLS(sigma=AR1(0.5))), ("GLS 'ar1' (feasible)", GLS(sigma="ar1")),
            ("Ridge α=10", Ridge(alpha=10.0)),
            ("ElasticNet α=0.01", ElasticNet(alpha=0.01, l1_ratio=0.5, tol=1e-12, max_iter=100000)),
            ("ElasticNetCV cv=4", None), ("enet_path (10 α)", None),
            ("DropoutRegression rate 0.3", DropoutRegression(rate=0.3))]
    cluster, client = start_cluster("3GB")
    rows = []
    try:
        for sched in ("threads", "distributed"):
            with dask.config.set(scheduler=client if sched == "distributed" else "threads"):
                for name, est in ests:
                    if name.startswith("ElasticNetCV"):
                        kw = dict(n_alphas=10, tol=1e-12, max_iter=100000)
                        ref = ElasticNetCV(cv=fold_row_indices(Xd.chunks[0], 4), **kw).fit(X, y)
                        m = ElasticNetCV(cv=4, **kw).fit(Xd, yd)
                        c, s = m.coef_, None
                        rc, rs = ref.coef_, None
                    elif name.startswith("enet_path"):
                        Xc, yc = X - X.mean(0), y - y.mean()
                        rc = enet_path(Xc, yc, n_alphas=10, tol=1e-12, max_iter=100000)[1]
                        c = enet_path(da.from_array(Xc, chunks=(chunk, -1)), da.from_array(yc, chunks=chunk),
                                      n_alphas=10, tol=1e-12, max_iter=100000)[1]
                        s = rs = None
                    else:
                        ref = type(est)(**est.get_params()).fit(X, y)
                        m = type(est)(**est.get_params()).fit(Xd, yd)
                        c, rc = m.coef_, ref.coef_
                        s, rs = getattr(m, "bse_", None), getattr(ref, "bse_", None)
                    rel_c = float(np.max(np.abs(c - rc)) / np.max(np.abs(rc)))
                    rel_s = None if s is None else float(np.max(np.abs(s - rs) / np.abs(rs)))
                    rows.append((sched, name, rel_c, rel_s, getattr(m, "n_passes_", 1) if est else 1))
    finally:
        client.close()
        cluster.close()
    print(f"\n(a) N = {n}, p = {p}, chunks of {chunk} rows; max relative difference to the in-memory fit")
    print("| scheduler | estimator | coef | standard errors | passes |\n|---|---|---|---|---|")
    for sched, name, rc, rs, passes in rows:
        print(f"| {sched} | {name} | {rc:.1e} | {'—' if rs is None else f'{rs:.1e}'} | {passes} |")


# ------------------------------------------------------------------------ (b), (d)
def bench_large(args):
    from curvlab.linear import OLS, Ridge

    n, p, chunk = args.rows, args.cols, args.chunk
    X, y = lazy_xy(n, p, chunk)
    cluster, client = start_cluster(args.memory_limit)
    sampler = TreeSampler()
    b0, beta = exact_params(p)
    exact = np.concatenate([[b0], beta])
    try:
        import dask

        with dask.config.set(scheduler=client):
            client.run(lambda: __import__("curvlab.linear._dask"))  # imports before any timing
            base = max(client.run(lambda: psutil.Process().memory_info().rss).values())
            out = {}
            for name, est in (("OLS + inference", OLS()), ("Ridge α=1", Ridge(alpha=1.0))):
                cpu0 = sampler.cpu()
                with sampler:
                    t0 = time.perf_counter()
                    est.fit(X, y)
                    wall = time.perf_counter() - t0
                cpu = sampler.cpu() - cpu0
                wpids = worker_pids(client)
                out[name] = (wall, cpu, sampler.peak_total, max(sampler.peak_by_pid.get(w, 0) for w in wpids),
                             sampler.peak_by_pid.get(os.getpid(), 0), est)
                print(name, out[name][:5], flush=True)  # partial results survive an interruption
    finally:
        client.close()
        cluster.close()
    gb = n * (p + 1) * 8 / 1e9
    print(f"\n(b) N = {n:.3g} rows × {p} columns ({gb:.1f} GB of float64 for [X y], generated lazily), "
          f"chunks of {chunk} rows ({chunk * (p + 1) * 8 / 1e6:.0f} MB), 2 workers × 1 thread")
    print("| fit | wall s | rows/s | CPU s (tree) | peak RSS tree | peak RSS worker | client RSS | digits vs exact |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (wall, cpu, tot, wmax, cl, est) in out.items():
        params = np.concatenate([[est.intercept_], est.coef_])
        print(f"| {name} | {wall:.1f} | {n / wall:.3g} | {cpu:.1f} | {tot / 2**30:.2f} GiB | "
              f"{wmax / 2**30:.2f} GiB | {cl / 2**30:.2f} GiB | "
              f"{digits(params, exact):.1f} |")
    print(f"worker RSS after imports, before any fit: {base / 2**30:.2f} GiB; chunk of [X y] "
          f"{chunk * (p + 1) * 8 / 2**20:.0f} MiB")
    ols = out["OLS + inference"][-1]
    print(f"OLS: passes {ols.n_passes_}, σ̂ = {np.sqrt(ols.scale_):.6f}, bse[1] = {ols.bse_[1]:.3e}, "
          f"df_resid = {ols.df_resid_}")


# ------------------------------------------------------------------------ (c)
def bench_daskml(args):
    import dask
    from dask_ml.linear_model import LinearRegression

    from curvlab.linear import OLS

    n, p, chunk = args.rows, args.cols, args.chunk
    X, y = lazy_xy(n, p, chunk)
    cluster, client = start_cluster(args.memory_limit)
    b0, beta = exact_params(p)
    exact = np.concatenate([[b0], beta])
    sampler = TreeSampler()
    rows = []
    try:
        with dask.config.set(scheduler=client):
            X, y = client.persist([X, y])
            from distributed import wait
            wait([X, y])
            # imports on the workers before any timing (both libraries)
            client.run(lambda: (__import__("curvlab.linear._dask"), __import__("dask_glm.algorithms")))
            configs = [("curvlab OLS(solver='auto') + inference", lambda: OLS())]
            for spec in args.daskml.split(";"):
                kw = eval(f"dict({spec})")  # e.g. "solver='lbfgs', C=1e12, tol=1e-12"
                configs.append((f"dask-ml LinearRegression({spec})", lambda kw=kw: LinearRegression(**kw)))
            for name, make in configs:
                est = make()
                cpu0 = sampler.cpu()
                with sampler:
                    t0 = time.perf_counter()
                    est.fit(X, y)
                    wall = time.perf_counter() - t0
                cpu = sampler.cpu() - cpu0
                coef = np.asarray(est.coef_).ravel()
                params = np.concatenate([[float(np.ravel(est.intercept_)[0])], coef])
                rows.append((name, wall, cpu, digits(params, exact), hasattr(est, "bse_")))
                print(rows[-1], flush=True)
    finally:
        client.close()
        cluster.close()
    print(f"\n(c) N = {n:.3g} × {p}, persisted on 2 workers × 1 thread, chunks of {chunk} rows")
    print("| estimator | wall s | CPU s (tree) | correct digits (min over b₀, β) | standard errors |")
    print("|---|---|---|---|---|")
    for name, wall, cpu, dg, se in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {dg:.1f} | {'yes' if se else 'no'} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["equal", "large", "daskml"])
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--cols", type=int, default=10)
    ap.add_argument("--chunk", type=int, default=None)
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--daskml", default="; solver='lbfgs', C=1e12, tol=1e-12, max_iter=500; "
                                        "solver='newton', tol=1e-12")
    args = ap.parse_args()
    if args.what == "equal":
        args.rows, args.chunk = args.rows or 200_000, args.chunk or 25_000
        bench_equal(args)
    elif args.what == "large":
        args.rows, args.chunk = args.rows or 50_000_000, args.chunk or 1_000_000
        bench_large(args)
    else:
        args.rows, args.chunk = args.rows or 10_000_000, args.chunk or 500_000
        args.cols = args.cols if args.cols != 10 else 50
        bench_daskml(args)


if __name__ == "__main__":
    main()
