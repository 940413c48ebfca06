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

from cbreservoir.utils.lazy import lazy_exports

_EXPORTS = {
    "pca_spectrum": ".dimensionality",
    "participation_ratio": ".dimensionality",
    "pca_dimensions": ".dimensionality",
    "spectrum_dimensions": ".dimensionality",
    "autocorrelation": ".timescales",
    "population_signal": ".timescales",
    "population_autocorrelation": ".timescales",
    "timescale_from_autocorrelation": ".timescales",
    "autocorrelation_timescale": ".timescales",
    "population_timescale": ".timescales",
    "unit_autocorrelations": ".timescales",
    "ExponentialFit": ".timescales",
    "fit_exponential_decay": ".timescales",
    "UnitTimescales": ".timescales",
    "fit_unit_timescales": ".timescales",
    "treves_rolls_sparseness": ".sparseness",
    "activity_ratio": ".sparseness",
    "coding_level": ".sparseness",
    "collect_activity": ".activity",
    "random_input_activity": ".activity",
    "task_activity": ".activity",
    "dimensionality_by_population": ".activity",
    "timescales_by_population": ".activity",
    "ablate_cerebellum": ".ablation",
    "ablated_copy": ".ablation",
    "ablation_accuracy": ".ablation",
    "level_accuracy": ".ablation",
    "training_head": ".ablation",
    "RecoveryResult": ".ablation",
    "readout_recovery": ".ablation",
    "noise_accuracy": ".noise",
    "noise_curves": ".noise",
    "nrmse": ".forecasting",
    "error_curve": ".forecasting",
    "valid_prediction_time": ".forecasting",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
