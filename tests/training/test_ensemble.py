"""Ensemble training: every member follows its solo GradientTrainer run exactly."""

import numpy as np
import pytest
import torch

from cbreservoir.models import CBRNN, ElmanRNN
from cbreservoir.tasks import make_batch, make_multitask_batch
from cbreservoir.training import GradientTrainer, Interleaved, TrainingDivergedError
from cbreservoir.training.ensemble import EnsembleTrainer

SEEDS = (3, 4, 5)


def small_cbrnn(seed, n_classes=2):
    return CBRNN(1, units=8, n_granule=16, n_purkinje=4, n_classes=n_classes, seed=seed)


def assert_same_weights(model_a, model_b, atol=1e-6):
    for (name, a), b in zip(model_a.named_parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-5, msg=name)


def run_side_by_side(make_model, level_plan, n_steps, task="dms", **trainer_kwargs):
    """Train an ensemble and the matching solo trainers on the same per-member data."""
    ensemble = EnsembleTrainer([make_model(s) for s in SEEDS], seeds=SEEDS, **trainer_kwargs)
    solos = [GradientTrainer(make_model(s), seed=s, **trainer_kwargs) for s in SEEDS]
    rngs = [np.random.default_rng(s) for s in SEEDS]
    for step in range(n_steps):
        levels = level_plan(step)
        ensemble.set_level(levels)
        for solo, level in zip(solos, levels, strict=True):
            solo.set_level(level)
        batches = [
            make_batch(task, level, batch_size=8, seed=rng) for level, rng in zip(levels, rngs, strict=True)
        ]
        losses = ensemble.train_step([x for x, _ in batches], [y for _, y in batches])
        expected = [solo.train_step(x, y) for solo, (x, y) in zip(solos, batches, strict=True)]
        np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    return ensemble, solos, batches


def test_members_follow_their_solo_runs_with_own_levels_lengths_and_clipping():
    # levels differ per member and change mid-run (frozen core, cerebellum, both), lengths differ
    # (left padding + mask), and a small clip norm makes per-member clipping bite
    def plan(step):
        return [2, 3, 2] if step < 3 else [3, 4, 5]

    ensemble, solos, batches = run_side_by_side(
        small_cbrnn, plan, 6, schedule=Interleaved(k=2), clip_norm=0.05
    )
    for member, solo in zip(ensemble.members, solos, strict=True):
        assert_same_weights(member, solo.model)
    results = ensemble.evaluate([x for x, _ in batches], [y for _, y in batches])
    expected = [solo.evaluate(x, y) for solo, (x, y) in zip(solos, batches, strict=True)]
    for got, want in zip(results, expected, strict=True):
        assert got["accuracy"] == want["accuracy"]
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)


def test_members_freezing_only_the_recurrent_layer_follow_their_solo_runs():
    # the multitask regime: after phase 0 the core's input layer learns, its recurrent layer does not
    def plan(step):
        return [3, 2, 4] if step < 2 else [3, 4, 5]

    before = small_cbrnn(SEEDS[0]).core.recurrent_layer.weight.detach().clone()
    ensemble, solos, _ = run_side_by_side(
        small_cbrnn, plan, 4, schedule=Interleaved(k=2, frozen_core="recurrent")
    )
    for member, solo in zip(ensemble.members, solos, strict=True):
        assert_same_weights(member, solo.model)
    assert torch.equal(ensemble.members[0].core.recurrent_layer.weight, before)  # always at level 3
    assert not torch.equal(
        ensemble.members[0].core.input_layer.weight, small_cbrnn(SEEDS[0]).core.input_layer.weight
    )


def test_rnn_members_with_adam_follow_their_solo_runs():
    ensemble, solos, _ = run_side_by_side(
        lambda s: ElmanRNN(1, 12, seed=s), lambda step: [2, 3, 4], 4, optimizer="adam", learning_rate=0.01
    )
    for member, solo in zip(ensemble.members, solos, strict=True):
        assert_same_weights(member, solo.model)


def test_padded_batch_gives_the_unpadded_result():
    x, y = make_batch("parity", 3, batch_size=8, seed=0)
    long_x = np.concatenate([x, x], axis=1)
    ensemble = EnsembleTrainer([small_cbrnn(0), small_cbrnn(0)], seeds=[0, 0])
    short, long = ensemble.evaluate([x, long_x], [y, y])
    alone = EnsembleTrainer([small_cbrnn(0)], seeds=[0]).evaluate([x], [y])[0]
    assert short["loss"] == pytest.approx(alone["loss"], rel=1e-6)
    assert long["loss"] != pytest.approx(alone["loss"], rel=1e-6)


def test_members_train_their_own_head():
    def make(seed):
        return small_cbrnn(seed, n_classes=(2, 2))

    ensemble = EnsembleTrainer([make(s) for s in SEEDS], seeds=SEEDS)
    solos = [GradientTrainer(make(s), seed=s) for s in SEEDS]
    heads = [0, 1, None]
    for step in range(3):
        x, y = make_multitask_batch(3, batch_size=8, seed=step)
        losses = ensemble.train_step([x] * 3, [y] * 3, head=heads)
        expected = [solo.train_step(x, y, head=head) for solo, head in zip(solos, heads, strict=True)]
        np.testing.assert_allclose(losses, expected, rtol=1e-5)
    assert ensemble.evaluate([x] * 3, [y] * 3)[2]["accuracy"] == solos[2].evaluate(x, y)["accuracy"]


def test_state_dict_holds_solo_checkpoints_and_resumes_exactly():
    ensemble, solos, _ = run_side_by_side(small_cbrnn, lambda step: [2, 2, 2], 2)
    state = ensemble.state_dict()
    copy = EnsembleTrainer([small_cbrnn(s + 10) for s in SEEDS], seeds=SEEDS)
    copy.load_state_dict(state)
    resumed_solo = GradientTrainer(small_cbrnn(99), seed=0)
    resumed_solo.load_state_dict(state["members"][1])
    x, y = make_batch("dms", 2, batch_size=8, seed=7)
    losses = ensemble.train_step([x] * 3, [y] * 3)
    assert copy.train_step([x] * 3, [y] * 3) == losses
    assert resumed_solo.train_step(x, y) == pytest.approx(losses[1], rel=1e-6)
    assert_same_weights(copy.members[1], resumed_solo.model)
    assert copy.step_count == 3 and resumed_solo.step_count == 3


def test_adam_members_with_different_trainable_groups_are_refused():
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], optimizer="adam", schedule="full_reservoir")
    ensemble.set_level([2, 3, 3])
    x, y = make_batch("dms", 2, batch_size=8, seed=0)
    with pytest.raises(ValueError, match="optimizer='sgd'"):
        ensemble.train_step([x] * 3, [y] * 3)


def test_divergence_names_the_step_and_keeps_the_last_good_weights():
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], learning_rate=1e38, clip_norm=None)
    x, y = make_batch("dms", 2, batch_size=8, seed=0)
    with pytest.raises(TrainingDivergedError, match="not finite at step") as error:
        for _ in range(5):
            before = [p.detach().clone() for p in ensemble.members[0].parameters()]
            ensemble.train_step([x] * 3, [y] * 3)
    assert f"step {ensemble.step_count + 1}" in str(error.value)
    for value, parameter in zip(before, ensemble.members[0].parameters(), strict=True):
        torch.testing.assert_close(value, parameter)


@pytest.mark.parametrize(
    ("models", "message"),
    [([], "at least one model"), ([CBRNN(1, 8, 16, 4), CBRNN(1, 8, 16, 5)], "share one architecture")],
)
def test_bad_members_are_refused(models, message):
    with pytest.raises(ValueError, match=message):
        EnsembleTrainer(models)


def test_batches_must_match_members():
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS])
    x, y = make_batch("dms", 2, batch_size=8, seed=0)
    with pytest.raises(ValueError, match="one batch per member"):
        ensemble.train_step([x] * 2, [y] * 3)
    with pytest.raises(ValueError, match="one target per member"):
        ensemble.train_step([x] * 3, [y] * 2)
    with pytest.raises(ValueError, match="same batch size"):
        ensemble.train_step([x, x, x[:4]], [y, y, y[:4]])


def test_stacked_array_inputs_explicit_masks_and_array_levels():
    x, y = make_batch("dms", 3, batch_size=8, seed=1)
    mask = np.ones(x.shape[:2], dtype=bool)
    mask[:4, :3] = False
    ensemble = EnsembleTrainer(
        [small_cbrnn(s) for s in SEEDS[:2]], seeds=SEEDS[:2], schedule="full_reservoir"
    )
    ensemble.set_level(np.array([2, 3]))
    solos = [GradientTrainer(small_cbrnn(s), seed=s, schedule="full_reservoir") for s in SEEDS[:2]]
    for solo, level in zip(solos, [2, 3], strict=True):
        solo.set_level(level)
    losses = ensemble.train_step(np.stack([x, x]), np.stack([y, y]), masks=[mask, None])
    expected = [solos[0].train_step(x, y, mask=mask), solos[1].train_step(x, y)]
    np.testing.assert_allclose(losses, expected, rtol=1e-6)
    assert ensemble.levels == [2, 3]
    with pytest.raises(ValueError, match="one mask per member"):
        ensemble.train_step([x, x], [y, y], masks=[mask])


@pytest.mark.parametrize(
    ("lengths", "overhead", "groups"),
    [
        ([5, 5, 5], 2.0, [[0, 1, 2]]),
        ([40, 4, 5, 41], 2.0, [[1, 2], [0, 3]]),
        ([40, 4, 5, 41], None, [[0, 1, 2, 3]]),
        ([40, 4, 5, 41], 100.0, [[0, 1, 2, 3]]),
    ],
)
def test_length_groups_split_only_when_padding_costs_more(lengths, overhead, groups):
    from cbreservoir.training.ensemble.trainer import _length_groups

    assert _length_groups(lengths, overhead) == groups


@pytest.mark.parametrize("group_overhead", [None, 0.0])
def test_grouping_does_not_change_results(group_overhead):
    batches = [make_batch("dms", level, batch_size=8, seed=level) for level in (2, 9, 3)]
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS, group_overhead=group_overhead)
    losses = ensemble.train_step([x for x, _ in batches], [y for _, y in batches])
    solos = [GradientTrainer(small_cbrnn(s), seed=s) for s in SEEDS]
    expected = [solo.train_step(x, y) for solo, (x, y) in zip(solos, batches, strict=True)]
    np.testing.assert_allclose(losses, expected, rtol=1e-6)


def test_members_may_follow_different_schedules():
    # the study's CB-RNN conditions (end-to-end, full reservoir, interleaved) as one ensemble
    schedules = ["end_to_end", "full_reservoir", Interleaved(k=2)]
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS, schedule=schedules)
    solos = [
        GradientTrainer(small_cbrnn(s), seed=s, schedule=sch) for s, sch in zip(SEEDS, schedules, strict=True)
    ]
    for step, level in enumerate([2, 3, 4]):
        ensemble.set_level(level)
        x, y = make_batch("dms", level, batch_size=8, seed=step)
        losses = ensemble.train_step([x] * 3, [y] * 3)
        expected = []
        for solo in solos:
            solo.set_level(level)
            expected.append(solo.train_step(x, y))
        np.testing.assert_allclose(losses, expected, rtol=1e-6)
    for member, solo in zip(ensemble.members, solos, strict=True):
        assert_same_weights(member, solo.model)


def test_schedules_with_different_learning_rates_are_refused():
    with pytest.raises(ValueError, match="same optimiser settings"):
        EnsembleTrainer([small_cbrnn(s) for s in SEEDS[:2]], schedule=["end_to_end", "reduced_recurrent"])


def test_members_sitting_out_keep_everything_and_the_others_follow_their_solo_runs():
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS, clip_norm=0.05)
    solos = [GradientTrainer(small_cbrnn(s), seed=s, clip_norm=0.05) for s in SEEDS]
    rngs = [np.random.default_rng(s) for s in SEEDS]
    ensemble.set_level(3)
    for solo in solos:
        solo.set_level(3)
    plan = [[0, 1, 2], [0, 2], [2], [0, 1, 2]]  # member 1 sits out steps 2 and 3, member 0 step 3
    for members in plan:
        batches = {member: make_batch("dms", 3, batch_size=8, seed=rngs[member]) for member in members}
        xs, ys = [batches[m][0] for m in members], [batches[m][1] for m in members]
        losses = ensemble.train_step(xs, ys, members=None if len(members) == 3 else members)
        expected = [solos[m].train_step(*batches[m]) for m in members]
        np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    ensemble.sync_members()
    for member, solo in enumerate(solos):
        assert_same_weights(ensemble.members[member], solo.model)
        assert ensemble.trainers[member].step_count == solo.step_count == sum(member in m for m in plan)
        assert ensemble.trainers[member].train_generator.get_state().equal(solo.train_generator.get_state())
    x, y = make_batch("dms", 3, batch_size=8, seed=rngs[1])
    result = ensemble.evaluate([x], [y], members=[1])
    assert result[0]["accuracy"] == solos[1].evaluate(x, y)["accuracy"]


@pytest.mark.parametrize("members", [[], [0, 0], [3], [-1]])
def test_sitting_out_needs_distinct_valid_members(members):
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS)
    x, y = make_batch("dms", 2, batch_size=4, seed=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"members must be distinct member indices in ascending order"):
        ensemble.train_step([x] * len(members), [y] * len(members), members=members)


def test_members_out_of_order_or_sitting_out_under_adam_are_refused():
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS)
    x, y = make_batch("dms", 2, batch_size=4, seed=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"ascending order in \[0, 3\), got \[2, 0\]"):
        ensemble.evaluate([x, x], [y, y], members=[2, 0])
    adam = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS, optimizer="adam")
    with pytest.raises(ValueError, match="members sitting out a step need optimizer='sgd'.*got Adam"):
        adam.train_step([x], [y], members=[1])


def test_divergence_names_each_members_own_step():
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS)
    x, y = make_batch("dms", 2, batch_size=4, seed=0)
    ensemble.train_step([x], [y], members=[0])  # member 0 is one step ahead
    huge = np.full_like(x, 3e38)  # finite input whose products overflow
    message = r"member\(s\) \[0, 1\] is not finite at steps \[2, 1\]"
    with pytest.raises(TrainingDivergedError, match=message):
        ensemble.train_step([huge, huge], [y, y], members=[0, 1])


def test_weights_that_become_non_finite_are_put_back_with_their_optimizer_state():
    # members at different levels of a full-reservoir schedule: the step restores the frozen members'
    # slices first, then (non-finite weights) every tensor and its momentum as before the step
    ensemble = EnsembleTrainer([small_cbrnn(s) for s in SEEDS], seeds=SEEDS, schedule="full_reservoir")
    ensemble.set_level([2, 3, 2])
    x, y = make_batch("dms", 2, batch_size=8, seed=0)
    ensemble.train_step([x] * 3, [y] * 3)
    weights = {name: stacked.detach().clone() for name, stacked in ensemble._params.items()}
    state = ensemble.optimizer.state
    momenta = {
        name: state[stacked]["momentum_buffer"].clone()
        for name, stacked in ensemble._params.items()
        if state[stacked]
    }
    assert momenta
    for group in ensemble.optimizer.param_groups:
        group["lr"] = float("inf")  # finite loss and gradients, non-finite update
    with pytest.raises(TrainingDivergedError, match=r"weights of member\(s\) \[0, 1, 2\] became non-finite"):
        ensemble.train_step([x] * 3, [y] * 3)
    for name, stacked in ensemble._params.items():
        assert torch.equal(stacked, weights[name]), name
        if name in momenta:
            assert torch.equal(ensemble.optimizer.state[stacked]["momentum_buffer"], momenta[name]), name
    assert ensemble.step_count == 1
