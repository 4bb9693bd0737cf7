"""Many runs at once: prior sweeps and scenario ensembles (:mod:`forecast.sweeps.sweep`) on the
engine of :mod:`forecast.sweeps.engine` (Dask, or this process)."""
