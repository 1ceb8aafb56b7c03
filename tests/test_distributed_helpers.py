"""The collective helpers without a process group are identities (reference: the input itself)."""

import torch

from curvlab import distributed as cd


def test_helpers_are_identities_without_a_group():
    assert not cd.is_distributed()
    assert cd.world_size() == 1 and cd.rank() == 0 and cd.is_main_process()
    t = torch.arange(5.0)
    ref = t.clone()
    assert cd.all_reduce_sum(t) is t and torch.equal(t, ref)
    assert cd.broadcast(t) is t and torch.equal(t, ref)
