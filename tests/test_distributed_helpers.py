"""The collective helpers without a process group are identities (reference: the input itself)."""

import pytest
import torch

from curvlab import distributed as cd


def test_helpers_are_identities_without_a_group():
    assert not cd.is_distributed()
    assert cd.world_size() == 1 and cd.rank() == 0 and cd.is_main_process()
    t = torch.arange(5.0)
    ref = t.clone()
    assert cd.all_reduce_sum(t) is t and torch.equal(t, ref)
    assert cd.broadcast(t) is t and torch.equal(t, ref)


def test_collectives_alone_are_the_local_values():
    # reference: what one rank holds is the whole data set
    x = torch.randn(3, 2, requires_grad=True)
    assert cd.all_gather_cat(x) is x
    assert cd.exchange({"a": 1}) == [{"a": 1}]
    cd.agree("f", tol=1e-3, v=torch.ones(2))                      # nothing to disagree with
    assert cd.global_count(7) == 7
    assert cd.rank0_decides(True) is True and cd.rank0_decides(False) is False
    assert cd.check_shards("f", 5) == [5]
    assert torch.equal(cd.sum_or_raise(lambda: torch.arange(3.0), like=torch.zeros(3)), torch.arange(3.0))
    assert cd.progress_disabled(None) is None and cd.progress_disabled(False) is True
    assert cd.signature(torch.nn.Linear(3, 2)) == [("weight", (2, 3), "torch.float32"), ("bias", (2,), "torch.float32")]
    assert cd.backend_for("cpu") == "gloo"
    assert not cd.init_from_env()                                   # not launched by torchrun
    assert cd.on_main_process(lambda: 42) == 42


def test_guards_alone_raise_the_original_error():
    with pytest.raises(ValueError, match="bad"):
        with cd.stage("s"):
            raise ValueError("bad")
    with pytest.raises(ValueError, match="bad"):
        cd.exchange(error=ValueError("bad"))

    @cd.raises_on_every_rank("f")
    def f(x):
        if x < 0:
            raise TypeError("x must be >= 0")
        return x

    assert f(2) == 2
    with pytest.raises(TypeError, match="x must be"):
        f(-1)


def test_an_empty_shard_message_names_the_rank():
    with pytest.raises(ValueError, match=r"empty on rank\(s\) \[1\] \(samples per rank \[3, 0\]\)"):
        cd.refuse_empty_shards([3, 0], "f")
