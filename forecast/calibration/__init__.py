"""Simulation-based calibration: parameters drawn from the prior, data simulated from the model,
the model fitted to them, and each parameter's rank among the posterior draws tested for
uniformity (:mod:`forecast.calibration.sbc`)."""
