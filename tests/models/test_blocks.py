"""The mossy-fibre column conversion of :mod:`cbreservoir.models.blocks` and its keys."""

from __future__ import annotations

import pytest
import torch

from cbreservoir.models import build_model
from cbreservoir.models.blocks import state_columns_last, state_columns_last_
from cbreservoir.numerics.network import MOSSY_WEIGHT_KEYS


def test_state_columns_last_moves_the_leading_state_columns_behind_the_inputs():
    # columns [h1, h2, h3 ; x1, x2] -> [x1, x2 ; h1, h2, h3]
    weight = torch.tensor([[1.0, 2.0, 3.0, 10.0, 20.0], [4.0, 5.0, 6.0, 40.0, 50.0]])
    expected = torch.tensor([[10.0, 20.0, 1.0, 2.0, 3.0], [40.0, 50.0, 4.0, 5.0, 6.0]])
    assert torch.equal(state_columns_last(weight, 3), expected)


def test_state_columns_last_acts_on_each_stacked_copy():
    weights = torch.randn(4, 3, 7, generator=torch.Generator().manual_seed(0))  # (E, n, H + d)
    moved = state_columns_last(weights, 5)
    for copy, moved_copy in zip(weights, moved, strict=True):
        assert torch.equal(state_columns_last(copy, 5), moved_copy)


def test_state_columns_last_in_place_equals_the_functional_form():
    torch.manual_seed(1)
    layer = torch.nn.Linear(6, 4)
    expected = state_columns_last(layer.weight.detach().clone(), 4)
    state_columns_last_(layer, 4)
    assert torch.equal(layer.weight.detach(), expected)


@pytest.mark.parametrize("kind", ["cbrnn", "rnn_aux"])
def test_each_model_with_mossy_fibres_holds_one_of_the_mossy_weight_keys_with_d_plus_h_columns(kind):
    model = build_model(kind, input_dim=3, units=8, seed=0)
    present = [key for key in MOSSY_WEIGHT_KEYS if key in model.state_dict()]
    assert len(present) == 1
    assert model.state_dict()[present[0]].shape[1] == 3 + 8
