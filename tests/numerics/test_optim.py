"""The optimisation helpers' finiteness test, against the element-wise definition."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.numerics.optim import all_finite


@settings(max_examples=40, deadline=None)
@given(
    members=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    poison=st.sampled_from([None, float("nan"), float("inf"), -float("inf")]),
)
def test_all_finite_is_the_elementwise_test(members, seed, poison):
    generator = torch.Generator().manual_seed(seed)
    tensors = [torch.randn(members, *shape, generator=generator) for shape in [(3, 4), (5,), (2, 2, 2)]]
    if poison is not None:
        which = int(torch.randint(len(tensors), (1,), generator=generator))
        flat = tensors[which].view(members, -1)
        flat[int(torch.randint(members, (1,), generator=generator)), -1] = poison
    expected = torch.stack([tensor.flatten(1).isfinite().all(1) for tensor in tensors]).all(0)
    assert torch.equal(all_finite(tensors, per_member=True), expected)
    assert bool(all_finite(tensors)) == bool(expected.all())
    assert bool(all_finite([tensor[0] for tensor in tensors])) == bool(expected[0])


@pytest.mark.parametrize("values", [[float("inf"), -float("inf")], [float("nan"), 0.0]])
def test_opposite_infinities_and_nan_are_not_finite(values):
    assert not all_finite([torch.tensor(values)])
