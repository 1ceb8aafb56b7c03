"""Test-session settings: one BLAS / PyTorch thread per process.

The tests solve many small problems; with several threads per process (and pytest-xdist
workers beside each other) spin-waiting threads slow them down severely on a 2-core machine.
"""

import torch
from threadpoolctl import threadpool_limits

torch.set_num_threads(1)
_LIMITS = threadpool_limits(limits=1)
