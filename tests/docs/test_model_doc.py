"""docs/model.md: its copy-by-hand example runs and its weight table is the spec's table."""

import re
from pathlib import Path

import numpy as np

from cbreservoir.numerics.network import NODE_ATTRIBUTES, WEIGHTS, model_key

PAGE = Path(__file__).resolve().parents[2] / "docs" / "model.md"


def test_the_copy_by_hand_example_gives_the_models_outputs():
    (block,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    namespace: dict = {}
    exec(block, namespace)
    assert namespace["outputs"].shape == (9, 2)
    np.testing.assert_allclose(
        namespace["outputs"][-1], namespace["logits"][0].detach().numpy(), rtol=0, atol=1e-10
    )


def test_the_weight_table_is_the_specs_table():
    rows = re.findall(r"^\| `(\w+)` \|[^|]*\|[^|]*\| `([^`]+)` \| `([^`]+)`", PAGE.read_text(), flags=re.M)
    assert [name for name, _, _ in rows] == list(WEIGHTS)
    for name, key, attribute in rows:
        node, node_attribute, _ = NODE_ATTRIBUTES[name]
        assert key.format(k=0) == model_key(name), name
        assert attribute == f"{node}.{node_attribute}", name
