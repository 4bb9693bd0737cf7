"""Scoring a run against what happened: each resolved question's outcome, its Brier and log
scores under the strategy that was enacted, appended to the ledger.

A notebook calls it as the command line does::

    from forecast.scoring import score_run
    scored = score_run("reports/article-20270115T090000Z", "resolutions.csv", enacted="status_quo")
    scored.entries                   # the new ledger entries
    scored.ledger.by_question()      # every forecast of each question over time
    scored.ledger.reliability()      # the reliability table (None below 10 scored forecasts)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.results.store import MANIFEST, Run, load_run
from forecast.scenario.domain import file_sha256
from forecast.scoring import ledger as ledgers
from forecast.scoring.errors import ScoringError
from forecast.scoring.resolutions import Resolution, question_rule, read_resolutions, subject_ranges
from forecast.scoring.scores import brier, log_score


@dataclass
class Scored:
    """What one scoring did: the run, the enacted strategy, the new entries and the ledger."""

    run: Run
    strategy: str
    entries: list[dict]
    ledger: ledgers.Ledger


def default_ledger(run_dir: str | Path) -> Path:
    """``ledger.jsonl`` in the run directory's parent folder: beside the runs, shared by them
    (where ``forecast ledger`` looks, given the run or its folder: :func:`~forecast.scoring.ledger.ledger_at`)."""
    return ledgers.beside(run_dir)


def enacted_strategy(summary: dict, name: str | None) -> dict:
    """The strategy that was enacted: ``name``, or the run's baseline when none is given."""
    strategies = summary["strategies"]
    known = ", ".join(s["id"] for s in strategies)
    if name is None:
        base = next((s for s in strategies if s["baseline"]), None)
        if base is None:
            raise ScoringError(f"the run has no baseline strategy: say which was enacted with --enacted, one of: "
                               f"{known}")
        return base
    found = next((s for s in strategies if s["id"] == name), None)
    if found is None:
        raise ScoringError(f"no strategy {name!r} in the run; known: {known}")
    return found


def observed_levels(tree: xr.DataTree) -> dict[tuple[str, int], float]:
    """The run's observed indicator values by (indicator, year), from its observed_data."""
    if "observed_data" not in tree.children or "indicator_value" not in tree["observed_data"].dataset:
        return {}
    obs = tree["observed_data"].dataset["indicator_value"].transpose("year", "indicator")
    values = np.asarray(obs.values, dtype=float)
    return {(str(ind), int(year)): float(values[i, k])
            for i, year in enumerate(obs["year"].values) for k, ind in enumerate(obs["indicator"].values)
            if np.isfinite(values[i, k])}


def run_draws(tree: xr.DataTree) -> int:
    """How many posterior draws the run's probabilities were estimated from (every draw: the
    summary is computed before --keep-draws thins the stored forecasts)."""
    post = tree["posterior"].dataset
    return int(post.sizes["chain"] * post.sizes["draw"])


def ledger_entry(run: Run, question: dict, strategy: dict, resolution: Resolution, outcome: bool, *,
                 draws: int, manifest_sha256: str, resolutions_file: Path, scored_at: str) -> dict:
    """One ledger line: what an analyst needs to follow the question over time, self-contained."""
    cell = question["by_strategy"][strategy["id"]]
    p = float(cell["probability"])
    return {
        "ledger": ledgers.VERSION,
        "scored": scored_at,
        "run": {"path": str(run.path.resolve()), "created": run.manifest.get("created"),
                "scenario": run.manifest.get("scenario_name", run.summary["scenario"]["name"]),
                "manifest_sha256": manifest_sha256, "inputs": run.manifest.get("inputs", {}), "draws": draws},
        "question": {"id": question["id"], "text": question["text"], "resolution": question.get("resolution") or "",
                     "rule": question.get("rule", ""), "year": question["year"]},
        "strategy": strategy["id"],
        "baseline": bool(strategy["baseline"]),
        "probability": p,
        "mcse": cell.get("mcse"),
        "outcome": outcome,
        "resolved_value": resolution.value_text if isinstance(resolution.value, bool) else resolution.value,
        "resolution_date": resolution.date.isoformat(),
        "source": resolution.source,
        "brier": round(brier(p, outcome), 6),
        "log_score": round(log_score(p, outcome, draws), 6),
        "resolutions": {"file": str(resolutions_file.resolve()), "row": resolution.row},
    }


def score_run(run: str | Path | Run, resolutions: str | Path, *, enacted: str | None = None,
              ledger: str | Path | None = None, today: date | None = None) -> Scored:
    """Score each question resolved in ``resolutions`` (a CSV, see
    :mod:`forecast.scoring.resolutions`) against ``run``'s probability under the ``enacted``
    strategy (default: the baseline), and append one entry per question to ``ledger``
    (default: :func:`default_ledger`).

    Everything is checked before the ledger is touched: the run against its manifest, the
    strategy, the ledger, and every row of the file (all problems at once, with their row
    numbers). Raises :class:`~forecast.results.store.RunError` or
    :class:`~forecast.scoring.errors.ScoringError`; the ledger is then as it was.
    """
    if not isinstance(run, Run):
        run = load_run(run)
    strategy = enacted_strategy(run.summary, enacted)
    ledger_path = Path(ledger) if ledger is not None else default_ledger(run.path)
    book = ledgers.Ledger.read(ledger_path)
    manifest_sha256 = file_sha256(run.path / MANIFEST)
    questions = {q["id"]: q for q in run.summary["questions"]}
    observed = observed_levels(run.tree)
    rows = read_resolutions(resolutions, questions, observed, today=today,
                            scored=book.scored_for(manifest_sha256), ranges=subject_ranges(run.summary))
    draws = run_draws(run.tree)
    scored_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entries = []
    for r in rows:
        q = questions[r.question]
        p = q["by_strategy"][strategy["id"]]["probability"]
        if p is None or not math.isfinite(p):
            raise ScoringError(f"{resolutions}, row {r.row}: the run has no probability for {r.question!r} under "
                               f"{strategy['id']!r}; nothing was scored")
        outcome = question_rule(q, observed).outcome(r.value)
        entries.append(ledger_entry(run, q, strategy, r, outcome, draws=draws, manifest_sha256=manifest_sha256,
                                    resolutions_file=Path(resolutions), scored_at=scored_at))
    appended = ledgers.append(ledger_path, entries, expected=book.raw)
    return Scored(run=run, strategy=strategy["id"], entries=entries, ledger=appended)
