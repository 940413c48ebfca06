"""What the cerebellum does: dimensionality, timescales, sparseness, ablation, readout recovery, robustness
to noise; forecasts.

Pure functions take numpy arrays (or torch tensors) of population activity, ``(samples, units)``
for dimensionality and sparseness, ``(trials, time, units)`` for timescales.

Examples
--------
>>> import numpy as np
>>> from cbreservoir.analysis import participation_ratio, autocorrelation_timescale
>>> participation_ratio(np.random.default_rng(0).standard_normal((2000, 5))) > 4.5
True
"""

from typing import TYPE_CHECKING

from cbreservoir.utils.lazy import lazy_exports

if TYPE_CHECKING:
    from cbreservoir.analysis.ablation import RecoveryResult as RecoveryResult
    from cbreservoir.analysis.ablation import ablate_cerebellum as ablate_cerebellum
    from cbreservoir.analysis.ablation import ablated_copy as ablated_copy
    from cbreservoir.analysis.ablation import ablation_accuracy as ablation_accuracy
    from cbreservoir.analysis.ablation import level_accuracy as level_accuracy
    from cbreservoir.analysis.ablation import readout_recovery as readout_recovery
    from cbreservoir.analysis.ablation import training_head as training_head
    from cbreservoir.analysis.activity import collect_activity as collect_activity
    from cbreservoir.analysis.activity import dimensionality_by_population as dimensionality_by_population
    from cbreservoir.analysis.activity import random_input_activity as random_input_activity
    from cbreservoir.analysis.activity import task_activity as task_activity
    from cbreservoir.analysis.activity import timescales_by_population as timescales_by_population
    from cbreservoir.analysis.dimensionality import participation_ratio as participation_ratio
    from cbreservoir.analysis.dimensionality import pca_dimensions as pca_dimensions
    from cbreservoir.analysis.dimensionality import pca_spectrum as pca_spectrum
    from cbreservoir.analysis.dimensionality import spectrum_dimensions as spectrum_dimensions
    from cbreservoir.analysis.forecasting import error_curve as error_curve
    from cbreservoir.analysis.forecasting import nrmse as nrmse
    from cbreservoir.analysis.forecasting import valid_prediction_time as valid_prediction_time
    from cbreservoir.analysis.noise import noise_accuracy as noise_accuracy
    from cbreservoir.analysis.noise import noise_curves as noise_curves
    from cbreservoir.analysis.sparseness import activity_ratio as activity_ratio
    from cbreservoir.analysis.sparseness import coding_level as coding_level
    from cbreservoir.analysis.sparseness import treves_rolls_sparseness as treves_rolls_sparseness
    from cbreservoir.analysis.timescales import ExponentialFit as ExponentialFit
    from cbreservoir.analysis.timescales import UnitTimescales as UnitTimescales
    from cbreservoir.analysis.timescales import autocorrelation as autocorrelation
    from cbreservoir.analysis.timescales import autocorrelation_timescale as autocorrelation_timescale
    from cbreservoir.analysis.timescales import fit_exponential_decay as fit_exponential_decay
    from cbreservoir.analysis.timescales import fit_unit_timescales as fit_unit_timescales
    from cbreservoir.analysis.timescales import population_autocorrelation as population_autocorrelation
    from cbreservoir.analysis.timescales import population_signal as population_signal
    from cbreservoir.analysis.timescales import population_timescale as population_timescale
    from cbreservoir.analysis.timescales import (
        timescale_from_autocorrelation as timescale_from_autocorrelation,
    )
    from cbreservoir.analysis.timescales import unit_autocorrelations as unit_autocorrelations

__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)
