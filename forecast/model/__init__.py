"""The model: the structural equations (:mod:`~forecast.model.dynamics`), the PyMC model of the
history built from a scenario (:mod:`~forecast.model.build`), its prior drawn forward
(:mod:`~forecast.model.prior`) and the measurement equation (:mod:`~forecast.model.measurement`)."""
