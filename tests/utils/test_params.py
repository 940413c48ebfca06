"""The one rule of the parameter checks: TypeError for a wrong type, ValueError for a wrong value, both naming
the parameter, what was expected and what was received; declared constraints checked in one call."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.utils.checks import (
    MAX_SEED,
    Choice,
    Instance,
    Integer,
    IntList,
    OrNone,
    Path,
    Real,
    Seed,
    check_bool,
    check_choice,
    check_params,
    check_real,
    check_seed,
)

#: One constraint per kind, a value it accepts (and what it returns), one of the wrong type, one wrong value.
CASES = [
    (Integer(1, 10), np.int64(3), 3, "3", 11, r"an int in \[1, 10\]"),
    (Integer(1), 4, 4, 4.0, 0, "a positive int"),
    (Real(0.0, 1.0, strict=True), 1, 1.0, "1", 0.0, r"a (real|finite) number in \(0, 1\]"),
    (Real(0.0, 1.0, strict_maximum=True), 0, 0.0, None, 1.0, r"a (real|finite) number in \[0, 1\)"),
    (Seed(), 7, 7, 7.0, -1, rf"an int in \[0, {MAX_SEED}\]"),
    (IntList(0), (1, 2), [1, 2], 3, [], r"a (non-empty )?list of ints in \[0, "),
    (Choice(("a", "b")), "a", "a", None, "c", r"one of \['a', 'b'\]"),
]


@pytest.mark.parametrize(("constraint", "good", "checked", "wrong_type", "wrong_value", "expected"), CASES)
def test_each_constraint_returns_the_checked_value_and_follows_the_one_rule(
    constraint, good, checked, wrong_type, wrong_value, expected
):
    result = check_params({"x": good}, x=constraint)["x"]
    assert result == checked and type(result) is type(checked)
    if not isinstance(constraint, Choice):  # a choice has no type: anything else is a wrong value
        with pytest.raises(TypeError, match=rf"^x must be {expected}.*; got {re.escape(repr(wrong_type))}$"):
            constraint(wrong_type, "x")
    with pytest.raises(ValueError, match=rf"^x must be {expected}.*; got {re.escape(repr(wrong_value))}$"):
        constraint(wrong_value, "x")


def test_check_params_checks_in_order_with_a_prefix_and_refuses_undeclared_names():
    values = {"units": 1.5, "seed": -1}
    with pytest.raises(TypeError, match=r"^Model\.units must be a positive int; got 1.5$"):
        check_params(values, "Model.", units=Integer(1), seed=Seed())
    with pytest.raises(ValueError, match=r"expected the parameters \['seed'\]; got \['seed', 'units'\]"):
        check_params(values, seed=Seed())
    assert check_params({"path": None}, path=OrNone(Path())) == {"path": None}
    with pytest.raises(TypeError, match="name must be a string; got 3"):
        check_params({"name": 3}, name=Instance(str, "a string"))


def test_one_seed_rule_with_none_and_generators_where_the_caller_takes_them():
    rng = np.random.default_rng(0)
    assert check_seed(None, none=True) is None and check_seed(rng, generator=True) is rng
    with pytest.raises(TypeError, match=r"seed must be an int in \[0, \d+\]; got None"):
        check_seed(None)
    with pytest.raises(TypeError, match="or a numpy Generator; got True"):
        check_seed(True, generator=True)
    with pytest.raises(ValueError, match=rf"; got {MAX_SEED + 1}$"):
        check_seed(MAX_SEED + 1)


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=3), st.none(), st.booleans()
    )
)
def test_fuzzed_values_pass_or_raise_only_type_or_value_errors_naming_the_value(value):
    for constraint in (Integer(0, 100), Real(-1.0, 1.0), Seed(none=True)):
        try:
            constraint(value, "p")
        except (TypeError, ValueError) as error:
            assert str(error).startswith("p must be ") and str(error).endswith(f"got {value!r}")
            right_type = type(value) is int or (type(value) is float and isinstance(constraint, Real))
            assert isinstance(error, ValueError) == right_type


def test_real_ranges_name_both_bounds():
    with pytest.raises(ValueError, match=r"^lr must be a finite number in \(0, 1\]; got nan$"):
        check_real(float("nan"), "lr", minimum=0.0, maximum=1.0, strict=True)
    assert check_real(np.float32(0.5), "lr", maximum=1.0) == 0.5


def test_check_bool_takes_python_and_numpy_bools_and_refuses_truthy_values_with_a_type_error():
    assert check_bool(True, "flag") is True
    assert check_bool(np.bool_(False), "flag") is False
    for value in (1, 0, "yes", None, 1.0):
        with pytest.raises(TypeError, match=re.escape(f"flag must be True or False; got {value!r}")):
            check_bool(value, "flag")


def test_check_choice_refuses_a_value_of_another_type_than_its_string_choices_with_a_type_error():
    scopes = ("all", "recurrent")
    expected = "frozen_core must be one of ['all', 'recurrent']; got "
    assert check_choice("all", "frozen_core", allowed=scopes) == "all"
    with pytest.raises(ValueError, match=re.escape(expected + "'some'")):
        check_choice("some", "frozen_core", allowed=scopes)
    with pytest.raises(TypeError, match=re.escape(expected + "3")):
        check_choice(3, "frozen_core", allowed=scopes)
    assert check_choice(None, "ridge", allowed=(None, "auto")) is None  # mixed choices: membership only
    with pytest.raises(ValueError, match="got 2"):
        check_choice(2, "level", allowed=(1, 3))
