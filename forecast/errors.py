"""The one error every refusal of the tool shares, so that a notebook can catch them all.

Each stage raises its own error with a message written for the user (the file, the key or
row, and the fix): :class:`~forecast.scenario.ScenarioError` for a scenario file,
:class:`~forecast.results.store.RunError` for a run directory or output folder,
:class:`~forecast.scoring.errors.ScoringError` for resolutions and ledgers,
:class:`~forecast.sweeps.variants.SweepError` and :class:`~forecast.sweeps.engine.ClusterError`
for sweeps, :class:`~forecast.backtest.hindcast.OriginsError` for backtest origins,
:class:`~forecast.calibration.sbc.CalibrationError` for a calibration that cannot rank,
:class:`~forecast.settings.SettingsError` for sampler settings and run arguments out of range
(:class:`~forecast.scenario.load.UnknownStrategy`, a :class:`ScenarioError`, for strategies asked
for that a scenario lacks). All derive from :class:`ForecastError`; anything else that escapes
is a defect of the tool. Two warnings go with them: :class:`ScenarioWarning` and
:class:`SamplerWarning`.
"""

from __future__ import annotations


class ForecastError(Exception):
    """An input, a file or a request the tool refuses; ``str()`` is the message for the user."""


class ScenarioWarning(UserWarning):
    """Something in a scenario worth a look that does not stop a run (a lever its horizon
    cannot reach, a data value far from its series, ...): :meth:`Scenario.warnings` lists them,
    and the Python API issues each as this warning unless given a ``warn`` callback."""


class SamplerWarning(UserWarning):
    """A run whose sampler's verdict is not OK (R-hat, effective sample size, divergences): the
    Python API issues it once the run is written, as PyMC warns of R-hat; the command line says
    the verdict itself (and exits 3 with ``--strict``)."""

