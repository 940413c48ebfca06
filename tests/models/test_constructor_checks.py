"""Constructor arguments of the torch modules, schedules and models are type-checked before use.

Every bad value (a string, None, a bool, NaN, an out-of-range number) raises ``TypeError`` or
``ValueError`` whose message names the parameter, never a bare comparison error.
"""

import math

import pytest

from cbreservoir.models import ElmanRNN, GRUModel, RecurrentAuxRNN
from cbreservoir.models.blocks import AuxiliaryRecurrentModule, LeakyCore
from cbreservoir.models.leaky import auxiliary_size_matching_cerebellum
from cbreservoir.training.schedules import FullReservoir, Interleaved, ReducedRecurrentPlasticity

#: parameter name -> (constructor taking that one argument, value out of range)
CONSTRUCTORS = {
    "tau": (lambda tau: LeakyCore(1, 2, tau=tau), 0.5),
    "scale": (lambda scale: ReducedRecurrentPlasticity(scale=scale), 1.5),
    "phase0_level": (lambda level: FullReservoir(phase0_level=level), -1),
    "k": (lambda k: Interleaved(k=k), 0),
    "input_dim": (lambda size: auxiliary_size_matching_cerebellum(size), 0),
    "units": (lambda size: ElmanRNN(1, units=size), -3),
    "n_granule": (lambda size: GRUModel(1, 2, n_granule=size), 0),
    "n_purkinje": (lambda size: GRUModel(1, 2, n_purkinje=size), 0),
}

BAD_KINDS = ("string", "none", "bool", "nan", "out_of_range")
#: parameters for which None means "not given" (the default leak), not a bad value
OPTIONAL = {"tau"}
BAD_CASES = [
    (name, kind)
    for name in sorted(CONSTRUCTORS)
    for kind in BAD_KINDS
    if not (kind == "none" and name in OPTIONAL)
]


def _bad_value(kind: str, out_of_range: object) -> object:
    return {"string": "x", "none": None, "bool": True, "nan": math.nan, "out_of_range": out_of_range}[kind]


@pytest.mark.parametrize(("name", "kind"), BAD_CASES)
def test_bad_constructor_argument_is_named(name, kind):
    build, out_of_range = CONSTRUCTORS[name]
    with pytest.raises((TypeError, ValueError), match=rf"\b{name} must be") as error:
        build(_bad_value(kind, out_of_range))
    assert "not supported between" not in str(error.value)


@pytest.mark.parametrize(
    ("name", "kind"),
    [(name, kind) for name in ("tau", "scale") for kind in ("string", "bool")] + [("scale", "none")],
)
def test_non_numbers_for_real_parameters_are_type_errors(name, kind):
    build, out_of_range = CONSTRUCTORS[name]
    with pytest.raises(TypeError, match=f"{name} must be a real number"):
        build(_bad_value(kind, out_of_range))


@pytest.mark.parametrize(
    "build",
    [
        lambda: RecurrentAuxRNN(1, 4, tau="x"),
        lambda: AuxiliaryRecurrentModule(3, 4, 2, tau=True),
    ],
)
def test_models_built_on_the_leaky_core_name_tau(build):
    with pytest.raises(TypeError, match="tau must be a real number"):
        build()


def test_auxiliary_model_names_a_bad_input_dim_before_sizing_its_module():
    with pytest.raises(TypeError, match="input_dim must be a positive int"):
        RecurrentAuxRNN("x", 4)


def test_leaky_core_takes_the_leak_as_lr_exactly_or_as_tau():
    assert LeakyCore(1, 2, tau=None).leak == 1 / 1.5 == LeakyCore(1, 2).leak
    assert 1 / (1 / 0.013) != 0.013 and LeakyCore(1, 2, lr=0.013).leak == 0.013  # no round trip via tau
    assert LeakyCore(1, 2, tau=4).leak == 0.25
    with pytest.raises(ValueError, match="not both"):
        LeakyCore(1, 2, tau=2, lr=0.5)
    for bad in (0.0, 1.5, math.nan):
        with pytest.raises(ValueError, match=r"lr (\(leak rate\) )?must be"):
            LeakyCore(1, 2, lr=bad)
    with pytest.raises(TypeError, match=r"lr \(leak rate\) must be a real number"):
        LeakyCore(1, 2, lr="x")


def test_valid_values_still_accepted():
    assert LeakyCore(1, 2, tau=2).tau == 2.0
    assert ReducedRecurrentPlasticity(scale=0).learning_rate_scales == {"core": 0.0}
    assert sorted(FullReservoir(phase0_level=0).trainable_groups(1)) == ["cerebellum", "readout"]
    assert Interleaved(k=1, phase0_level=0).trainable_groups(3) == {"core", "cerebellum", "readout"}
    assert auxiliary_size_matching_cerebellum(1) == 139  # documented value for H = 64, d = 1
