"""The adaptive plasticity schedule: its rule on scripted histories, its state in runs, checkpoints and
ensembles, and the fixed schedules' trajectories left as they were."""

from __future__ import annotations

import hashlib
import platform

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.models import CBRNN
from cbreservoir.training import CurriculumTrainer, GradientTrainer, make_schedule
from cbreservoir.training.ensemble import EnsembleCurriculumTrainer, EnsembleTrainer
from cbreservoir.training.schedules import Adaptive, core_recurrent_learns, frozen_parameters, replay
from cbreservoir.utils.threads import torch_threads

SMALL = {"steps_per_epoch": 3, "test_batches": 2, "batch_size": 8, "progress": False}
CORE = {"cerebellum", "core", "readout"}
#: Tiny networks at threshold 0.5 advance most epochs and fail some: the core opens after one failure.
OPENING = Adaptive(patience=1, plateau=None, phase0_level=1)
RESERVOIR = {"cerebellum", "readout"}


def _tiny(seed=0):
    return CBRNN(1, units=8, n_granule=16, n_purkinje=8, seed=seed)


def _decisions(schedule, epochs):
    return [core_recurrent_learns(groups) for groups in replay(schedule, epochs)]


def test_the_core_reopens_after_patience_epochs_without_an_advance_and_closes_after_the_next():
    schedule = Adaptive(patience=3, plateau=None)
    # (level, solved, test_loss): phase 0 at N = 2, then 4 epochs stuck at N = 3, then N = 4
    epochs = [(2, True, 0.3), (3, False, 0.7), (3, False, 0.6), (3, False, 0.5), (3, False, 0.4)]
    epochs += [(3, True, 0.1), (4, False, 0.6)]
    # epoch 1 (phase 0) trains the core; epochs 2-4 not; the 3rd epoch at N = 3 stalls -> epoch 5 opens
    assert _decisions(schedule, epochs) == [True, False, False, False, True, True, False]
    assert replay(schedule, epochs)[4] == CORE and replay(schedule, epochs)[6] == RESERVOIR


def test_a_test_loss_plateau_reopens_the_core_before_patience_runs_out():
    schedule = Adaptive(patience=100, plateau=2, min_improvement=0.1)
    # 0.5 is the best; 0.48 is not 10 % below it, nor is 0.47: two epochs without improvement
    epochs = [(3, False, 0.5), (3, False, 0.48), (3, False, 0.47), (3, False, 0.2)]
    assert _decisions(schedule, epochs) == [False, False, False, True]
    # an improvement resets the count
    epochs = [(3, False, 0.5), (3, False, 0.48), (3, False, 0.3), (3, False, 0.29)]
    assert _decisions(schedule, epochs) == [False, False, False, False]


def test_phase0_trains_the_core_whatever_the_state_and_frozen_core_recurrent_keeps_the_input_layer():
    schedule = Adaptive(patience=1, plateau=None, frozen_core="recurrent")
    state = schedule.observe(schedule.initial_state(), level=2, solved=False, test_loss=0.5)
    assert state["core_plastic"] and schedule.trainable_groups(2, state) == {"core", "readout"}
    assert schedule.trainable_groups(3, schedule.initial_state()) == {"cerebellum", "core.input", "readout"}
    assert schedule.trainable_groups(3, state) == CORE


def test_the_recorded_decision_is_whether_the_recurrent_layer_learns_in_either_frozen_core_regime():
    # the input layer learns throughout in the "recurrent" regime; only the stall opens the recurrent layer
    epochs = [(2, True, 0.3), (3, False, 0.7), (3, False, 0.6), (3, True, 0.1), (4, False, 0.6)]
    for frozen_core in ("all", "recurrent"):
        schedule = Adaptive(patience=2, plateau=None, frozen_core=frozen_core)
        assert _decisions(schedule, epochs) == [True, False, False, True, False], frozen_core
    full_reservoir = make_schedule("full_reservoir", frozen_core="recurrent")
    assert _decisions(full_reservoir, epochs) == [True, False, False, False, False]
    assert core_recurrent_learns(frozenset({"core.input"})) is False
    assert core_recurrent_learns(frozenset({"core"})) and core_recurrent_learns(frozenset({"core.recurrent"}))
    names = frozen_parameters(_tiny(), schedule, 3)
    assert names == ["core.recurrent_layer.weight", "core.recurrent_layer.bias"]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0.0, 2.0)), min_size=1, max_size=30),
    st.integers(1, 5),
    st.one_of(st.none(), st.integers(1, 5)),
)
def test_the_core_is_frozen_on_every_first_epoch_of_a_level_and_opens_only_after_a_stall(
    outcomes, patience, plateau
):
    schedule = Adaptive(patience=patience, plateau=plateau, phase0_level=0)
    level, epochs = 1, []
    for solved, loss in outcomes:
        epochs.append((level, solved, loss))
        level += solved
    decisions = _decisions(schedule, epochs)
    for index in range(len(epochs)):
        first_at_level = index == 0 or epochs[index - 1][1]
        if first_at_level:
            assert not decisions[index]
        since = index - max([i for i in range(index) if epochs[i][1]], default=-1)  # epochs at this level
        if since > patience:  # patience epochs at this level passed without an advance
            assert decisions[index]
        if decisions[index] and not first_at_level:
            assert decisions[index - 1] or since >= 2


def test_bad_settings_and_states_are_refused():
    with pytest.raises(ValueError, match="both be None"):
        Adaptive(patience=None, plateau=None)
    with pytest.raises(ValueError, match="patience"):
        Adaptive(patience=0)
    with pytest.raises(ValueError, match="min_improvement"):
        Adaptive(min_improvement=1.0)
    with pytest.raises(ValueError, match="keeps no state"):
        make_schedule("full_reservoir").check_state({"core_plastic": True})
    schedule = Adaptive()
    with pytest.raises(ValueError, match="must be a dict"):
        schedule.check_state({"core_plastic": True})
    with pytest.raises(ValueError, match="core_plastic"):
        schedule.check_state({**schedule.initial_state(), "core_plastic": 1})
    assert make_schedule(**schedule.config) == schedule


def _adaptive_run(checkpoint_dir=None, n_epochs=8, trainer=None):
    trainer = trainer or GradientTrainer(_tiny(), schedule=OPENING, seed=0)
    curriculum = CurriculumTrainer(trainer, "dms", threshold=0.5, checkpoint_dir=checkpoint_dir, **SMALL)
    return trainer, curriculum.run(n_epochs)


def test_the_trainer_follows_the_rule_and_the_record_replays_it():
    trainer = GradientTrainer(_tiny(), schedule=OPENING, seed=0)
    curriculum = CurriculumTrainer(trainer, "dms", threshold=0.5, **SMALL)
    curriculum.begin()
    live = []
    for _ in range(8):
        live.append(trainer.trainable_groups)
        curriculum.run_epoch()
    epochs = [(r.level, r.solved, r.test_loss) for r in curriculum.history.records]
    assert live == replay(trainer.schedule, epochs)
    assert any(groups == CORE for groups in live) and any(groups == RESERVOIR for groups in live)


def test_an_interrupted_adaptive_run_resumes_bitwise(tmp_path):
    reference, expected = _adaptive_run()
    _adaptive_run(tmp_path, n_epochs=5)
    resumed, history = _adaptive_run(tmp_path)

    def trajectory(h):
        return [(r.level, r.accuracy, r.loss, r.test_loss) for r in h.records]

    assert trajectory(history) == trajectory(expected)
    assert resumed.schedule_state == reference.schedule_state
    for name, tensor in reference.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_ensemble_members_keep_their_own_adaptive_state_and_match_solo_runs():
    schedules = [OPENING, make_schedule("full_reservoir")]
    ensemble = EnsembleTrainer([_tiny(seed) for seed in (0, 1)], seeds=[0, 1], schedule=schedules)
    histories = EnsembleCurriculumTrainer(ensemble, "dms", threshold=0.5, **SMALL).run(8)
    for member, schedule in enumerate(schedules):
        solo = GradientTrainer(_tiny(member), schedule=schedule, seed=member)
        expected = CurriculumTrainer(solo, "dms", seed=member, threshold=0.5, **SMALL).run(8)
        assert histories[member].levels == expected.levels
        assert histories[member].accuracies == expected.accuracies
        assert ensemble.trainers[member].schedule_state == solo.schedule_state


#: Digests of 5-epoch curriculum runs of the fixed schedules, made with the code before the adaptive
#: schedule existed (commit 20f1fe1, torch 2.13.0+cpu, x86_64 Linux): their trajectories must not change.
FIXED_DIGESTS = {
    ("end_to_end", ()): "27641ef63c9dbbdd",
    ("full_reservoir", ()): "d327cae45c925414",
    ("interleaved", (("k", 2),)): "3ca7b44bf4aa99c9",
    ("full_reservoir", (("frozen_core", "recurrent"),)): "09825e545b346c2f",
}


@pytest.mark.skipif(
    torch.__version__ != "2.13.0+cpu" or platform.machine() != "x86_64",
    reason="the digests were recorded with torch 2.13.0+cpu on x86_64",
)
@pytest.mark.parametrize(("name", "options"), list(FIXED_DIGESTS))
def test_fixed_schedules_keep_the_trajectories_they_had_before(name, options):
    with torch_threads(1):
        trainer = GradientTrainer(_tiny(), schedule=make_schedule(name, **dict(options)), seed=0)
        history = CurriculumTrainer(trainer, "dms", threshold=0.5, **SMALL).run(5)
    digest = hashlib.sha256()
    for record in history.records:
        digest.update(repr((record.level, record.accuracy, record.loss, record.test_loss)).encode())
    for key, tensor in trainer.model.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().numpy().tobytes())
    assert digest.hexdigest()[:16] == FIXED_DIGESTS[(name, options)]


def test_in_the_continual_plan_the_record_replays_the_warm_up_and_the_adaptive_decisions():
    from cbreservoir.experiments.reproduce.compute import schedule_epochs
    from cbreservoir.tasks import task_spec
    from cbreservoir.training.continual import ContinualTrainer

    model = CBRNN(
        task_spec("continual").input_size, units=8, n_granule=16, n_purkinje=8, n_classes=(2, 2), seed=0
    )
    trainer = GradientTrainer(model, schedule=Adaptive(patience=1, plateau=None), seed=0)
    run = ContinualTrainer(trainer, threshold=0.5, phase_epochs=3, **SMALL)
    run.begin()
    live = []
    for _ in range(run.n_epochs):
        live.append(trainer.trainable_groups)
        run.run_epoch()
    epochs = [(r.level, r.solved, r.test_loss) for r in run.history.records]
    assert live == replay(trainer.schedule, schedule_epochs("continual", epochs))
    assert live[0] == {"core", "readout"}  # the warm-up: phase 0 until the first criterion
