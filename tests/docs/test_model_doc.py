"""docs/model.md: its weight table is the spec's table (test_examples runs its copy-by-hand example)."""

import re
from pathlib import Path

from cbreservoir.numerics.network import NODE_ATTRIBUTES, WEIGHTS, model_key

PAGE = Path(__file__).resolve().parents[2] / "docs" / "model.md"


def test_the_weight_table_is_the_specs_table():
    rows = re.findall(r"^\| `(\w+)` \|[^|]*\|[^|]*\| `([^`]+)` \| `([^`]+)`", PAGE.read_text(), flags=re.M)
    assert [name for name, _, _ in rows] == list(WEIGHTS)
    for name, key, attribute in rows:
        node, node_attribute, _ = NODE_ATTRIBUTES[name]
        assert key.format(k=0) == model_key(name), name
        assert attribute == f"{node}.{node_attribute}", name
