"""Files written before a class moved (issue 33's layout) still load: the io knows each old class path."""

import json

import numpy as np

import cbreservoir
from cbreservoir.io import HEADER_KEY
from cbreservoir.io._registry import MOVED_CLASSES, classes, current_class_path
from cbreservoir.nodes import Reservoir, Ridge
from tests.io.crafting import parts, write


def test_every_moved_class_is_a_known_class():
    assert all(new in classes() and old not in classes() for old, new in MOVED_CLASSES.items())
    assert current_class_path("cbreservoir.nodes.ridge:Ridge") == "cbreservoir.nodes.ridge:Ridge"


def test_a_graph_saved_under_the_old_class_paths_loads(tmp_path):
    """A streamed ``Reservoir >> Ridge`` (a graph Model holding ridge statistics) written with the paths
    ``cbreservoir.nodes.model:Model`` and ``cbreservoir.nodes.ridge:_Statistics`` loads as it was saved."""
    x = np.random.default_rng(0).normal(size=(3, 40, 2))
    model = Reservoir(12, seed=0) >> Ridge(1e-6)
    model.fit(x[:, :-1], x[:, 1:])
    model.nodes[-1].partial_fit(model.nodes[0].run(x[0, :-1]), x[0, 1:])
    path = cbreservoir.save(model, tmp_path / "new.cbr")
    arrays, metadata, header = parts(path)
    text = metadata[HEADER_KEY]
    for old, new in MOVED_CLASSES.items():
        assert json.dumps(new) in text
        text = text.replace(json.dumps(new), json.dumps(old))
    old_file = write(tmp_path / "old.cbr", arrays, metadata, header_text=text)
    loaded = cbreservoir.load(old_file)
    assert type(loaded) is type(model)
    assert loaded.nodes[-1]._statistics is not None
    np.testing.assert_array_equal(loaded.run(x), model.run(x))
