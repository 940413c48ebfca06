"""The shared helper for deprecated keyword and attribute aliases."""

import pytest

from cbreservoir.utils.deprecation import renamed_attribute, renamed_keyword


def test_renamed_keyword_moves_the_value_and_warns():
    kwargs = {"hidden_size": 8, "seed": 0}
    with pytest.warns(FutureWarning, match="hidden_size is deprecated; use units"):
        renamed_keyword(kwargs, "hidden_size", "units", "CBRNN")
    assert kwargs == {"units": 8, "seed": 0}


def test_renamed_keyword_is_silent_without_the_old_name(recwarn):
    kwargs = {"units": 8}
    renamed_keyword(kwargs, "hidden_size", "units", "CBRNN")
    assert kwargs == {"units": 8}
    assert not recwarn.list


def test_renamed_keyword_refuses_both_names():
    with pytest.raises(TypeError, match="both 'hidden_size'.*'units'"):
        renamed_keyword({"hidden_size": 8, "units": 8}, "hidden_size", "units", "CBRNN")


def test_renamed_attribute_warns_and_reads_the_new_attribute():
    class Model:
        units = 8
        hidden_size = renamed_attribute("hidden_size", "units")

    with pytest.warns(FutureWarning, match="Model.hidden_size is deprecated; use Model.units"):
        assert Model().hidden_size == 8
