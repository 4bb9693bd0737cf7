"""Forecasts from the posterior: every strategy's counterfactual future
(:mod:`~forecast.forecasts.strategies`) and the answers to the scenario's questions
(:mod:`~forecast.forecasts.questions`)."""
