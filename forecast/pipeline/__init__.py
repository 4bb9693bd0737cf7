"""Each command's flow as one Python call, orchestration only: every stage is a call into its
own package, timed and shown as it runs. The command line is a thin shell over these; a
notebook calls them the same way::

    from forecast.pipeline import run_scenario, run_backtest, run_sweep
    run = run_scenario("priors/article.toml")

* :func:`run_scenario` (:mod:`.run`): scenario -> posterior -> forecasts -> run directory;
* :func:`run_backtest` (:mod:`.backtest`): hindcasts from each origin, scored;
* :func:`run_sweep` (:mod:`.sweep`): many variants of a scenario, on Dask or here;
* :func:`run_calibration` (:mod:`.calibrate`): simulation-based calibration, on the same engine.
"""

from forecast.pipeline.backtest import Backtest, run_backtest
from forecast.pipeline.calibrate import Calibration, run_calibration
from forecast.pipeline.run import Timings, analyse, frozen_heap, run_scenario
from forecast.pipeline.sweep import Sweep, run_sweep

__all__ = ["Backtest", "Calibration", "Sweep", "Timings", "analyse", "frozen_heap", "run_backtest", "run_calibration",
           "run_scenario", "run_sweep"]
