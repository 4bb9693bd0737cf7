"""The posterior: sampling (:mod:`~forecast.posterior.sampling`), whether to trust it
(:mod:`~forecast.posterior.diagnostics`), the history drawn after sampling when it was
integrated out (:mod:`~forecast.posterior.history`), and the draws as the forecasts take them
(:mod:`~forecast.posterior.draws`)."""
