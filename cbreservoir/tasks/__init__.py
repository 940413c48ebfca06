"""Tasks: the study's binary sequence tasks (DMS, parity, mod-3, multitask, switching) and classic
reservoir-computing benchmarks (NARMA-10, Mackey–Glass, Lorenz-63, memory capacity, nonlinear memory).

Examples
--------
>>> from cbreservoir.tasks import make_batch, task_spec
>>> x, y = make_batch("dms", n=4, batch_size=32, seed=0)   # x (32, M, 1) float32, y (32,) int64
>>> task_spec("switching")
TaskSpec(input_size=2, n_classes=(2, 2))
"""

from cbreservoir.tasks.classic import (
    LORENZ63_LYAPUNOV,
    forgetting_curve,
    lorenz63,
    mackey_glass,
    memory_capacity,
    memory_capacity_score,
    narma10,
)
from cbreservoir.tasks.nonlinear_memory import nonlinear_memory_task
from cbreservoir.tasks.sequence import (
    CONTINUAL_PLAN,
    CURRICULUM_TASKS,
    MULTITASK_TASKS,
    N_CLASSES,
    TWO_HEAD_TASKS,
    SwitchingStage,
    TaskSpec,
    check_level,
    labels,
    length_range,
    make_batch,
    make_continual_batch,
    make_multitask_batch,
    make_switching_batch,
    make_task_batch,
    min_level,
    switching_plan,
    task_spec,
)

__all__ = [
    "CONTINUAL_PLAN",
    "CURRICULUM_TASKS",
    "LORENZ63_LYAPUNOV",
    "MULTITASK_TASKS",
    "N_CLASSES",
    "SwitchingStage",
    "TWO_HEAD_TASKS",
    "TaskSpec",
    "check_level",
    "forgetting_curve",
    "labels",
    "length_range",
    "lorenz63",
    "mackey_glass",
    "make_batch",
    "make_continual_batch",
    "make_multitask_batch",
    "make_switching_batch",
    "make_task_batch",
    "memory_capacity",
    "memory_capacity_score",
    "min_level",
    "narma10",
    "nonlinear_memory_task",
    "switching_plan",
    "task_spec",
]
