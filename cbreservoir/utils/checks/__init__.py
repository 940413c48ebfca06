"""The package's checks, in two modules with one rule (``TypeError`` for a wrong type, ``ValueError`` for a
wrong value, both naming the expected and the received): :mod:`.arrays` for time series, targets and single
steps, :mod:`.params` for parameters and settings, declared as constraints and checked by
:func:`~cbreservoir.utils.checks.params.check_params`. This module only re-exports."""

from cbreservoir.utils.checks import arrays, params
from cbreservoir.utils.checks.arrays import *  # noqa: F403 (the re-export is this module's job)
from cbreservoir.utils.checks.params import *  # noqa: F403

__all__ = [*arrays.__all__, *params.__all__]
