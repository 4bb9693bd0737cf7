"""How far the forecasts can be trusted: rolling-origin hindcasts of a scenario's indicators,
scored against what happened and against naive baselines."""
