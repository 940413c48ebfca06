"""Model-level analyses: ablation, readout recovery and activity of the torch models."""

import numpy as np
import pytest
import torch

from cbreservoir.analysis import (
    ablate_cerebellum,
    ablated_copy,
    ablation_accuracy,
    collect_activity,
    dimensionality_by_population,
    random_input_activity,
    readout_recovery,
    task_activity,
    timescales_by_population,
)
from cbreservoir.models import CBRNN, ElmanRNN
from cbreservoir.tasks import make_batch


def small_cbrnn(seed=0, n_classes=2):
    return CBRNN(1, units=12, n_granule=24, n_purkinje=6, n_classes=n_classes, seed=seed)


def strong_cerebellum(model):
    """Scale the cerebellar weights up so that its output visibly changes the core."""
    with torch.no_grad():
        for layer in (model.cerebellum.granule, model.cerebellum.purkinje, model.cerebellum.nuclei):
            layer.weight.mul_(5.0)
    return model


def test_ablating_a_silent_cerebellum_changes_nothing():
    model = small_cbrnn()
    with torch.no_grad():
        model.cerebellum.nuclei.weight.zero_()
        model.cerebellum.nuclei.bias.zero_()
    x, _ = make_batch("dms", 3, batch_size=16, seed=0)
    full = collect_activity(model, x, seed=1)
    with ablate_cerebellum(model):
        ablated = collect_activity(model, x, seed=1)
    np.testing.assert_array_equal(full["core"], ablated["core"])
    assert set(ablated) == {"core"}
    row = ablation_accuracy(model, "dms", levels=[2], n_batches=3, batch_size=32)[0]
    assert row["full"] == row["ablated"]


def test_ablation_switches_the_output_off_and_restores_the_flag_on_exceptions():
    model = strong_cerebellum(small_cbrnn())
    x, _ = make_batch("dms", 3, batch_size=16, seed=0)
    generator = torch.Generator().manual_seed(0)
    h0 = model.initial_state(16, generator)
    with ablate_cerebellum(model) as same:
        assert same is model and model.cerebellum_enabled is False
        ablated_logits = model(x, h0=h0)
    assert model.cerebellum_enabled is True
    assert not torch.allclose(ablated_logits, model(x, h0=h0))
    with pytest.raises(RuntimeError, match="inside"), ablate_cerebellum(model):
        raise RuntimeError("inside")
    assert model.cerebellum_enabled is True
    model.cerebellum_enabled = False
    with ablate_cerebellum(model):
        pass
    assert model.cerebellum_enabled is False


def test_ablated_copy_leaves_the_original_untouched():
    model = small_cbrnn()
    copy = ablated_copy(model)
    assert model.cerebellum_enabled is True and copy.cerebellum_enabled is False
    for original, copied in zip(model.parameters(), copy.parameters(), strict=True):
        assert original is not copied
        torch.testing.assert_close(original, copied)


def test_ablation_of_a_model_without_cerebellum_is_a_no_op_and_non_models_are_rejected():
    model = ElmanRNN(1, 8, seed=0)
    row = ablation_accuracy(model, "parity", levels=[2, 3], n_batches=2, batch_size=16)
    assert [(r["level"], r["full"] == r["ablated"]) for r in row] == [(2, True), (3, True)]
    with pytest.raises(TypeError, match="cerebellum_enabled attribute"):
        ablated_copy(torch.nn.Linear(2, 2))


def test_analyses_reject_models_without_the_tasks_heads_and_unknown_tasks():
    with pytest.raises(ValueError, match=r"1 readout head\(s\) and 1 input channel\(s\) for task 'dms'"):
        ablation_accuracy(small_cbrnn(n_classes=(2, 2)), "dms", levels=[2])
    with pytest.raises(ValueError, match=r"2 readout head\(s\) .* got 1 head"):
        readout_recovery(small_cbrnn(), "multitask", level=2, n_steps=1)
    for task in ("xor", "continual"):
        with pytest.raises(ValueError, match="task must be one of the curriculum tasks"):
            ablation_accuracy(small_cbrnn(), task, levels=[2])


def two_head_cbrnn(task):
    return strong_cerebellum(
        CBRNN(2 if task == "switching" else 1, units=12, n_granule=24, n_purkinje=6, n_classes=(2, 2), seed=0)
    )


@pytest.mark.parametrize("task", ["multitask", "switching"])
def test_two_head_tasks_give_per_head_accuracies_and_the_curriculums_level_accuracy(task):
    model = two_head_cbrnn(task)
    rows = ablation_accuracy(model, task, levels=[2, 5], n_batches=2, batch_size=16)
    for row in rows:
        assert len(row["full_heads"]) == len(row["ablated_heads"]) == 2
        expected = row["full_heads"][1 if task == "switching" and row["level"] == 5 else 0]
        if task == "multitask":
            expected = min(row["full_heads"])
        assert row["full"] == expected
    result = readout_recovery(model, task, level=5, n_steps=4, n_batches=2, batch_size=16, progress=False)
    assert [len(values) for values in result.heads.values()] == [2, 2, 2]
    changed = {
        name
        for name, value in result.model.state_dict().items()
        if not torch.equal(value, model.state_dict()[name])
    }
    # multitask trains both heads; switching only the head active at N = 5 (parity, head 1)
    expected = {"readouts.1.weight", "readouts.1.bias"}
    if task == "multitask":
        expected |= {"readouts.0.weight", "readouts.0.bias"}
    assert changed == expected


def test_mod3_has_three_classes():
    model = strong_cerebellum(small_cbrnn(n_classes=3))
    (row,) = ablation_accuracy(model, "mod3", levels=[3], n_batches=2, batch_size=16)
    assert len(row["full_heads"]) == 1 and 0 <= row["ablated"] <= 1


def test_readout_recovery_trains_only_the_readout_of_a_copy():
    model = strong_cerebellum(small_cbrnn())
    before = {name: value.clone() for name, value in model.state_dict().items()}
    result = readout_recovery(
        model, "dms", level=2, n_steps=6, n_batches=2, batch_size=16, eval_every=2, progress=False
    )
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)
    assert model.cerebellum_enabled and not result.model.cerebellum_enabled
    retrained = result.model.state_dict()
    changed = {name for name, value in retrained.items() if not torch.equal(value, before[name])}
    assert changed == {"readouts.0.weight", "readouts.0.bias"}
    assert [step for step, _ in result.curve] == [0, 2, 4, 6]
    assert result.curve[0][1] == result.zero_shot and result.curve[-1][1] == result.recovered
    assert result.zero_shot_gap == pytest.approx(result.intact - result.zero_shot)
    assert result.to_dict()["recovered_gap"] == pytest.approx(result.intact - result.recovered)


def test_readout_recovery_defaults_to_the_studys_sgd_and_can_use_adam():
    model = strong_cerebellum(small_cbrnn())
    study = readout_recovery(model, "parity", level=3, n_batches=1, batch_size=8, progress=False)
    assert study.n_steps == 100
    assert study.optimizer == {
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "momentum": 0.1,
        "nesterov": True,
        "clip_norm": 7.5,
    }
    adam = readout_recovery(
        model, "parity", level=3, n_steps=2, n_batches=1, progress=False, optimizer="adam", learning_rate=3e-3
    )
    assert adam.optimizer["optimizer"] == "adam" and adam.optimizer["learning_rate"] == 3e-3


def test_readout_recovery_without_steps_recovers_nothing_and_is_deterministic():
    model = strong_cerebellum(small_cbrnn())
    first = readout_recovery(model, "dms", level=2, n_steps=0, n_batches=2, progress=False)
    assert first.recovered == first.zero_shot and first.curve == [(0, first.zero_shot)]
    again = readout_recovery(model, "dms", level=2, n_steps=0, n_batches=2, progress=False)
    assert again == first


def test_random_input_activity_shapes_warmup_and_seeding():
    model = small_cbrnn()
    activity = random_input_activity(model, n_trials=3, n_steps=20, warmup=5, seed=4)
    assert {name: values.shape for name, values in activity.items()} == {
        "core": (3, 15, 12),
        "granule": (3, 15, 24),
        "purkinje": (3, 15, 6),
        "nuclei": (3, 15, 12),
    }
    again = random_input_activity(model, n_trials=3, n_steps=20, warmup=5, seed=4)
    np.testing.assert_array_equal(activity["core"], again["core"])
    with pytest.raises(ValueError, match="warmup"):
        random_input_activity(model, n_steps=10, warmup=10)


def test_collect_activity_flattens_trials_and_steps():
    model = small_cbrnn()
    x = np.random.default_rng(0).integers(0, 2, size=(4, 7, 1)).astype(np.float32)
    flat = collect_activity(model, x)
    nested = collect_activity(model, x, flatten=False)
    assert flat["granule"].shape == (28, 24) and nested["granule"].shape == (4, 7, 24)
    np.testing.assert_array_equal(flat["granule"], nested["granule"].reshape(28, 24))


@pytest.mark.parametrize(("task", "channels"), [("parity", 1), ("switching", 2)])
def test_task_activity_flattens_the_batches_of_the_level(task, channels):
    model = small_cbrnn() if channels == 1 else two_head_cbrnn(task)
    activity = task_activity(model, task, 4, n_batches=3, batch_size=5, seed=1)
    samples = activity["core"].shape[0]
    assert samples % 5 == 0 and 3 * 5 * 6 <= samples <= 3 * 5 * 17  # M in {N + 2, ..., 4N + 1}
    assert {name: values.shape[1] for name, values in activity.items()} == {
        "core": 12,
        "granule": 24,
        "purkinje": 6,
        "nuclei": 12,
    }
    np.testing.assert_array_equal(
        activity["granule"], task_activity(model, task, 4, n_batches=3, batch_size=5, seed=1)["granule"]
    )


def test_population_summaries():
    model = strong_cerebellum(small_cbrnn())
    activity = random_input_activity(model, n_trials=4, n_steps=60, warmup=5, seed=0)
    activity["silent"] = np.zeros((4, 55, 3))
    dims = dimensionality_by_population(activity)
    assert 1 <= dims["core"]["d90"] <= dims["core"]["d95"] <= 12
    assert dims["core"]["d95_per_unit"] == dims["core"]["d95"] / 12
    assert dims["silent"] == {"d90": 0, "d95": 0, "d95_per_unit": 0.0, "participation_ratio": 0.0, "units": 3}
    scales = timescales_by_population(
        activity, population_max_lag=20, unit_max_lag=8, keep_autocorrelation=True
    )
    assert scales["silent"] == {"silent": True, "units": 3}
    core = scales["core"]
    assert len(core["population_autocorrelation"]) == 21
    assert core["population_autocorrelation"][0] == pytest.approx(1.0)
    assert core["population_timescale"] is None or 0 < core["population_timescale"] <= 20
    assert 0.0 <= core["fraction_double"] <= 1.0 and core["fitted_units"] <= 12
    assert core["median_unit_timescale"] > 0 and core["mean_unit_timescale"] > 0
    brief = timescales_by_population({"core": activity["core"]}, population_max_lag=20, fit_units=False)
    assert set(brief["core"]) == {"population_timescale", "units"}
    with pytest.raises(ValueError, match="population_max_lag"):
        timescales_by_population(activity, population_max_lag=55)
