"""Strict-JSON conversion of results (numpy/torch values, paths, non-finite floats)."""

import json
import math
from pathlib import Path

import numpy as np
import torch

from cbreservoir.utils.strict_json import json_ready


def test_results_become_strict_json():
    value = {
        1: np.float32(0.5),
        "levels": np.arange(3),
        "tensor": torch.tensor([1.0, 2.0]),
        "sem": math.nan,
        "bounds": (-math.inf, 2.0),
        "path": Path("runs") / "a.json",
    }
    ready = json_ready(value)
    assert ready == {
        "1": 0.5,
        "levels": [0, 1, 2],
        "tensor": [1.0, 2.0],
        "sem": None,
        "bounds": [None, 2.0],
        "path": str(Path("runs") / "a.json"),
    }
    json.dumps(ready, allow_nan=False)
