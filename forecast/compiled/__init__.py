"""The compiled machinery: the PyTensor Ops with hand-written numba kernels (the likelihood's
Kalman filter, the sampled history's recurrence, the priors' join) and what makes them fast
(a C entry, a background compile, lean nutpie callbacks). The rest of the package enters
through :mod:`forecast.compiled.runtime`, which also decides between the fast path and the
plain one."""
