"""The one persisted format (issue 33): its data codec round trips, its digest, its migration path."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.utils import fileformat
from cbreservoir.utils.fileformat import (
    FORMAT_VERSION,
    VERSIONS,
    header,
    migrate,
    read_binary,
    read_data,
    register_migration,
    text_document,
    write_data,
    write_text,
)

_DTYPES = [torch.float32, torch.float64, torch.int64, torch.uint8, torch.bool]


_TENSORS = st.builds(
    lambda dtype, shape: torch.arange(int(np.prod(shape)), dtype=torch.float64).reshape(shape).to(dtype),
    st.sampled_from(_DTYPES),
    st.lists(st.integers(0, 3), max_size=3),
)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**130), 2**130),  # a PCG64 state holds 128-bit integers
    st.floats(allow_nan=False),
    st.sampled_from([float("inf"), float("-inf")]),
    st.text(max_size=5),
    _TENSORS,
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers(0, 20)), inner, max_size=3),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(OrderedDict),
    ),
    max_leaves=12,
)


def _same(a, b) -> bool:
    """Equal values of the same types, tensors bit for bit (and dtype)."""
    if isinstance(a, torch.Tensor):
        return type(b) is torch.Tensor and a.dtype == b.dtype and torch.equal(a, b) and not b.requires_grad
    if isinstance(a, dict):
        return type(a) is type(b) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=25, deadline=None)
@given(value=_DATA)
def test_data_round_trip_exactly_through_a_binary_document(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("data") / "value.cbr"
    write_data(path, "checkpoint", value)
    assert _same(value, read_data(path, "checkpoint"))


def test_a_binary_document_is_signed_by_the_one_digest(tmp_path):
    path = write_data(tmp_path / "x.cbr", "checkpoint", {"w": torch.ones(2, 3)})
    contents = read_binary(path)
    raw = path.read_bytes()
    tensors = raw[8 + int.from_bytes(raw[:8], "little") :]
    metadata = sorted(contents.metadata.items())
    fields = "".join(f"{key}\0{value}\0" for key, value in metadata if key != "sha256")
    assert contents.metadata["sha256"] == hashlib.sha256(fields.encode() + tensors).hexdigest()
    assert contents.metadata["format_version"] == str(FORMAT_VERSION) == "5"


def test_a_document_of_another_object_type_is_refused(tmp_path):
    path = write_data(tmp_path / "x.cbr", "checkpoint", {"level": 2})
    with pytest.raises(ValueError, match="holds a 'checkpoint', not a 'run_record'"):
        read_data(path, "run_record")


def test_data_that_is_not_data_is_refused_at_write(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save checkpoint\['model'\]: objects of type builtins"):
        write_data(tmp_path / "x.cbr", "checkpoint", {"model": object()})
    assert not list(tmp_path.iterdir())


def test_text_documents_hold_plain_json_and_refuse_any_edit(tmp_path):
    path = write_text(tmp_path / "r.json", "run_record", {"result": {"acc": 0.5}})
    signed = json.loads(path.read_text())
    document = header("run_record", "builtins:dict", {}, {"result": {"acc": 0.5}})
    assert text_document(signed) == (FORMAT_VERSION, document)
    for field, value in [("payload", {"result": {"acc": 0.75}}), ("class", "x:y"), ("package_version", "9")]:
        with pytest.raises(ValueError, match="does not match its sha256 digest"):
            text_document({**signed, field: value})
    with pytest.raises(ValueError, match="expected the fields"):
        text_document({**signed, "arrays": {}})
    with pytest.raises(TypeError, match="JSON serializable"):
        write_text(tmp_path / "a.json", "run_record", {"w": np.ones(2)})


def test_migrate_applies_the_registered_converters_one_version_at_a_time(monkeypatch):
    monkeypatch.setattr(fileformat, "_MIGRATIONS", {})
    register_migration("kind", 2, lambda payload: [*payload, "2->3"])
    register_migration("kind", 3, lambda payload: [*payload, "3->4"])
    register_migration("kind", 4, lambda payload: [*payload, "4->5"])
    assert migrate("kind", 2, []) == ["2->3", "3->4", "4->5"]
    assert migrate("kind", 3, []) == ["3->4", "4->5"]
    assert migrate("kind", FORMAT_VERSION, []) == []
    assert migrate("other", 2, []) == []  # no converter: nothing of that type changed
    with pytest.raises(ValueError, match=r"expected a format version in \[2, 3, 4, 5\], got 1"):
        migrate("kind", 1, [])
    with pytest.raises(ValueError, match="already registered"):
        register_migration("kind", 2, lambda payload: payload)
    with pytest.raises(ValueError, match="older versions"):
        register_migration("kind", FORMAT_VERSION, lambda payload: payload)


def test_the_version_table_is_the_one_history():
    assert sorted(VERSIONS) == list(range(1, FORMAT_VERSION + 1))
    assert fileformat.READ_VERSIONS == (2, 3, 4, 5)


def test_optimizer_states_rename_the_learning_rate_wherever_a_state_sits_and_back():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.5, momentum=0.1)
    state = optimizer.state_dict()
    member = {"optimizer": state, "model": OrderedDict(w=torch.ones(1))}
    data = {"trainer": {"members": [member]}, "lr": 2 / 3}
    stored = fileformat.optimizer_states(data, to_file=True)
    group = stored["trainer"]["members"][0]["optimizer"]["param_groups"][0]
    assert list(group) == ["learning_rate", *list(state["param_groups"][0])[1:]]  # same place
    assert stored["lr"] == 2 / 3  # not an optimiser's: kept
    assert type(stored["trainer"]["members"][0]["model"]) is OrderedDict
    assert _same(fileformat.optimizer_states(stored, to_file=False), data)


def test_optimizer_fields_refuse_a_table_already_holding_the_other_name():
    with pytest.raises(ValueError, match=r"under torch's names \['lr'\], got \['learning_rate'\]"):
        fileformat.optimizer_fields({"lr": 0.1, "learning_rate": 0.2}, to_file=True)
    with pytest.raises(ValueError, match=r"under a file's names \['learning_rate'\], got \['lr'\]"):
        fileformat.optimizer_fields({"lr": 0.1}, to_file=False)
    assert fileformat.optimizer_fields({"learning_rate": 0.1, "momentum": 0}, to_file=False) == {
        "lr": 0.1,
        "momentum": 0,
    }
