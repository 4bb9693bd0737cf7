"""What each answer hinges on: the claims' influence on the answers, what would flip the
decision, the value of information, and the answers before any evidence
(:mod:`~forecast.sensitivity.analysis`, forecasting again with
:mod:`~forecast.sensitivity.reforecast`), and what changed between two runs
(:mod:`~forecast.sensitivity.diff`)."""
