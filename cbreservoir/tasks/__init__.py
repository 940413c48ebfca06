"""Tasks: the study's binary sequence tasks (DMS, parity, mod-3, multitask, switching) and classic
reservoir-computing benchmarks (NARMA-10, Mackey–Glass, Lorenz-63, memory capacity, nonlinear memory).

Examples
--------
>>> from cbreservoir.tasks import make_batch, task_spec
>>> x, y = make_batch("dms", n=4, batch_size=32, seed=0)   # x (32, M, 1) float32, y (32,) int64
>>> task_spec("switching")
TaskSpec(input_size=2, n_classes=(2, 2))
"""

from cbreservoir.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "N_CLASSES": ".sequence",
    "MULTITASK_TASKS": ".sequence",
    "TaskSpec": ".sequence",
    "SwitchingStage": ".sequence",
    "task_spec": ".sequence",
    "length_range": ".sequence",
    "min_level": ".sequence",
    "check_level": ".sequence",
    "random_bits": ".sequence",
    "labels": ".sequence",
    "make_batch": ".sequence",
    "make_multitask_batch": ".sequence",
    "make_switching_batch": ".sequence",
    "make_continual_batch": ".sequence",
    "CONTINUAL_PLAN": ".sequence",
    "TWO_HEAD_TASKS": ".sequence",
    "make_task_batch": ".sequence",
    "CURRICULUM_TASKS": ".sequence",
    "switching_plan": ".sequence",
    "narma10": ".classic",
    "mackey_glass": ".classic",
    "lorenz63": ".classic",
    "LORENZ63_LYAPUNOV": ".classic",
    "memory_capacity": ".classic",
    "forgetting_curve": ".classic",
    "memory_capacity_score": ".classic",
    "nonlinear_memory_task": ".nonlinear_memory",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
