"""Scenario files: the schema, loading and every check that runs before sampling.

:func:`load_scenario` reads a TOML file, checks it against the schema
(:mod:`~forecast.scenario.schema`), resolves every prior (:mod:`~forecast.scenario.priors`),
reads the indicators' data (:mod:`~forecast.scenario.data`) and checks the cross-references
(:mod:`~forecast.scenario.graph` for the claims' structure). Everything that can be wrong
with a file is found here, so that a run never fails after minutes of sampling for a typo;
problems come back together as one :class:`ScenarioError`.
"""

from forecast.scenario.domain import (
           Claim,
           Indicator,
           Node,
           Question,
           Scenario,
           Strategy,
)
from forecast.scenario.errors import Problem, ScenarioError
from forecast.scenario.load import load_scenario, select_strategies

__all__ = ["Claim", "Indicator", "Node", "Problem", "Question", "Scenario", "ScenarioError", "Strategy",
           "load_scenario", "select_strategies"]
