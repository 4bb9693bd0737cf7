"""Many runs at once: what a sweep varies (:mod:`.variants`), the engine that runs the fits
(:mod:`.engine`: Dask, or this process) and the sweep's results (:mod:`.results`); the flow
itself is :func:`forecast.pipeline.run_sweep`."""
