"""CPU seconds per HessianOperator.matvec (cached, reverse-over-reverse) on the digits MLP, and
per lanczos(k=1) on it — run with PYTHONPATH at the old and at the new source."""
import time, torch, numpy as np
from sklearn.datasets import load_digits
from torch import nn
from curvlab.curvature import HessianOperator, lanczos
torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X = torch.tensor(X / 16, dtype=torch.float64); y = torch.tensor(y)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10)).double()
def cpu(f, reps):
    best = []
    for _ in range(5):
        t = time.process_time(); [f() for _ in range(reps)]; best.append((time.process_time() - t) / reps)
    return np.median(best)
H = HessianOperator(model, nn.CrossEntropyLoss(), (X, y))
v = torch.randn(H.dim, dtype=torch.float64)
print(f"P={H.dim}  matvec: {cpu(lambda: H.matvec(v), 50) * 1e3:.3f} ms   "
      f"construct: {cpu(lambda: HessianOperator(model, nn.CrossEntropyLoss(), (X, y)), 5) * 1e3:.2f} ms   "
      f"lanczos k=1 tol=1e-6: {cpu(lambda: lanczos(H, k=1, tol=1e-6), 1) * 1e3:.1f} ms")
