"""The HTML page of a backtest, and the run report's panel "How good are these forecasts?".

The page reads only the backtest's dataset and summary: a sentence on coverage and skill, a
calibration plot (the share of actuals each central interval held, against its nominal level;
a calibrated forecaster lies on the diagonal), the PIT histogram (flat when calibrated), the
skill table per indicator with the baselines' scores, and per indicator every origin's fan
chart against what happened. Figures are drawn with the run report's style
(:mod:`forecast.report.figures`) and inlined.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from markupsafe import Markup

from forecast.backtest.evaluate import BASELINE_LABELS
from forecast.backtest.hindcast import MIN_HISTORY, SHORT
from forecast.posterior.diagnostics import ESS_PER_CHAIN_OK, RHAT_OK, RHAT_WARN
from forecast.report.context import stylesheet
from forecast.report.figures import HISTORY, PALETTE, frame, plain_axes, styled, text, to_svg
from forecast.report.render import environment
from forecast.scenario.domain import Scenario

#: The coverage a calibrated forecaster's 90% intervals have on few dozen points, about:
#: the band the page calls calibrated (and the issue's target).
CALIBRATED_90 = (0.80, 0.97)
LEVELS_SHOWN = ("50", "80", "90")


def headline(summary: dict) -> str:
    """One sentence: the 90% and 50% intervals' coverage and the skill against the best baseline."""
    cov, sk = summary["coverage"]["model"], summary["skill"]
    if not summary["points"] or cov["90"] is None:
        return "The backtest has no held-back observations to score."
    best = BASELINE_LABELS.get(sk["best_baseline"], sk["best_baseline"])
    interval = sk.get("interval")
    if interval is None:  # one origin, or a backtest from before the interval was kept
        verdict = "better than" if sk["skill"] > 0 else "no better than"
        spread = ""
    else:
        lo, hi = interval
        verdict = "better than" if lo > 0 else "worse than" if hi < 0 else "about as good as"
        spread = f", 90% interval {lo:+.2f} to {hi:+.2f} over the origins"
    low, high = CALIBRATED_90
    side = coverage_side(cov["90"], summary["points"])
    if side:
        calibration = f" (too {side}: calibrated 90% intervals would hold {low:.0%}–{high:.0%})"
    elif not low <= cov["90"] <= high:
        calibration = f" (on {summary['points']} points, as a calibrated 90% interval might)"
    else:
        calibration = ""
    n, h = len(summary["origins"]), summary["horizon"]
    ahead = "1 year ahead" if h == 1 else f"1–{h} years ahead"
    return (f"Over {summary['points']} held-back observations ({n} origin{'' if n == 1 else 's'}, "
            f"{ahead}), the 90% intervals held {cov['90']:.0%} of what happened"
            f"{calibration} and the 50% intervals {cov['50']:.0%}; the forecasts were {verdict} the best naive "
            f"forecast, a {best}: skill {sk['skill']:+.2f}{spread}.")


def coverage_side(coverage: float, points: int, level: float = 0.9, alpha: float = 0.05) -> str | None:
    """"narrow" or "wide" when the intervals held a share of the points outside
    :data:`CALIBRATED_90` and one a calibrated forecaster would rarely give on that many points
    (binomial tail below ``alpha``); else None. All 4 of 4 points inside 90% intervals is what
    a calibrated forecaster does two times in three: not "too wide". The binomial treats the
    points as independent, which points of one origin (one fit) are not: it is the least that
    must hold before a share is called off, not a test at level ``alpha``."""
    from scipy.stats import binom

    low, high = CALIBRATED_90
    held = round(coverage * points)
    if coverage < low and binom.cdf(held, points, level) < alpha:
        return "narrow"
    if coverage > high and binom.sf(held - 1, points, level) < alpha:
        return "wide"
    return None


def quality_notes(summary: dict) -> list[str]:
    """What the headline's pooled numbers hide: the 90% intervals' coverage at each horizon, and
    origins whose fits did not pass their diagnostics (their scores rest on unconverged fits)."""
    notes = []
    by_horizon = {int(h): v["coverage"]["90"] for h, v in (summary.get("by_horizon") or {}).items()
                  if v.get("coverage", {}).get("90") is not None}
    if len(by_horizon) > 1:
        notes.append("By horizon, the 90% intervals held " + ", ".join(
            f"{c:.0%} {h} year{'s' if h > 1 else ''} ahead" for h, c in sorted(by_horizon.items())) + ".")
    fits = summary.get("fits") or {}
    for verdict, did, consequence in (("fail", "failed", "their scores are not to be trusted"),
                                      ("warn", "warned", "their scores are less precise")):
        origins = sorted(o for o, f in fits.items() if (f or {}).get("verdict") == verdict)
        if origins:
            whose = "The only origin's fit" if len(fits) == 1 else f"The fits of {len(origins)} of {len(fits)} origins"
            if len(fits) == 1:
                consequence = consequence.replace("their scores are", "its scores are")
            notes.append(f"{whose} {did} on {'its' if len(fits) == 1 else 'their'} diagnostics "
                         f"({', '.join(origins)}): {consequence}; the backtest's page says why.")
    return notes


@styled
def calibration_chart(*, reliability: dict, salt: str, small: bool = False) -> Markup:
    """Empirical against nominal coverage of central intervals, model and baselines."""
    size = (2.6, 2.3) if small else (3.8, 3.2)
    fig, ax = frame(*size, left=0.62, bottom=0.55)
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.9, linestyle=(0, (2, 2)))
    shown = {"model": reliability["model"]} if small else reliability
    for i, (name, curve) in enumerate(shown.items()):
        ax.plot(curve["nominal"], curve["empirical"], marker="o", markersize=3.2, color=PALETTE[i],
                linewidth=2.0 if name == "model" else 1.1, label="model" if name == "model" else BASELINE_LABELS[name])
    ax.set_xlim(0, 1), ax.set_ylim(0, 1)
    ax.set_xlabel("interval's nominal level")
    ax.set_ylabel("share of actuals inside")
    if not small:
        ax.legend(loc="upper left", fontsize=8)
    plain_axes(ax)
    return to_svg(fig, salt=salt, alt="Calibration: the share of actual values inside each central interval "
                                      "against the interval's level; the diagonal is perfect calibration")


@styled
def pit_histogram(*, counts: list[int], salt: str) -> Markup:
    """The model's PIT values in ten bins, with the flat line of a calibrated forecaster."""
    fig, ax = frame(3.8, 2.6)
    edges = np.linspace(0, 1, 11)
    ax.bar(edges[:-1], counts, width=0.1, align="edge", color=PALETTE[0], alpha=0.75, edgecolor="white")
    ax.axhline(sum(counts) / 10, color="#444444", linewidth=1.0, linestyle=(0, (2, 2)))
    ax.set_xlim(0, 1)
    ax.set_xlabel("PIT (where the actual fell in the predictive)")
    ax.set_ylabel("observations")
    plain_axes(ax)
    return to_svg(fig, salt=salt, alt="Histogram of PIT values; a calibrated forecaster's is flat at the dashed line")


@styled
def origins_chart(*, label: str, history: dict, fans: list[dict], log: bool, salt: str) -> Markup:
    """One indicator's observed series, and each origin's 50% and 90% fan over its horizon."""
    fig, ax = frame(4.4, 2.9, top=0.34)
    singles = [f["years"][0] for f in fans if len(f["years"]) == 1]
    seen: dict[int, int] = {}
    for i, fan in enumerate(fans):
        color = PALETTE[i % len(PALETTE)]
        if len(fan["years"]) == 1:  # a band over one year is no band: the ranges as bars, side by side in a year
            year = fan["years"][0]
            k, n = seen.get(year, 0), singles.count(year)
            seen[year] = k + 1
            x = year + 0.16 * (k - (n - 1) / 2)
            ax.plot([x, x], [fan["q05"][0], fan["q95"][0]], color=color, linewidth=1.0, alpha=0.7)
            ax.plot([x, x], [fan["q25"][0], fan["q75"][0]], color=color, linewidth=3.5, alpha=0.7)
            ax.plot([x], fan["q50"], color=color, marker="o", markersize=3.5, linestyle="none")
        else:
            ax.fill_between(fan["years"], fan["q05"], fan["q95"], color=color, alpha=0.14, linewidth=0)
            ax.fill_between(fan["years"], fan["q25"], fan["q75"], color=color, alpha=0.3, linewidth=0)
            ax.plot(fan["years"], fan["q50"], color=color, linewidth=1.2)
        if "origin" in fan:  # which origin this colour is
            ax.annotate(str(fan["origin"]), (x if len(fan["years"]) == 1 else fan["years"][0], fan["q50"][0]),
                        xytext=(-3, 5),
                        textcoords="offset points", fontsize=8.5, color=color, ha="right")  # no smaller than the legend
    ax.plot(history["years"], history["values"], color=HISTORY, marker="o", markersize=3, linewidth=1.1,
            zorder=5, label="what happened")
    ax.set_title(text(label, 60), loc="left")
    ax.legend(loc="best", fontsize=8.5)
    years = history["years"] + [y for f in fans for y in f["years"]]
    plain_axes(ax, years=(min(years), max(years)), log=log)
    return to_svg(fig, salt=salt, alt=f"{label}: each origin's forecast fan against the observed values")


def fans(ds: xr.Dataset, scenario: Scenario, indicator: str) -> list[dict]:
    """Each origin's quantiles of ``indicator`` in its own units, over the years it scored."""
    ind = scenario.indicators[indicator]
    part = ds.sel(indicator=indicator)
    out = []
    for origin in part["origin"].values:
        o = part.sel(origin=origin)
        have = np.isfinite(o["q50"].values)
        if not have.any():
            continue
        fan = {"origin": int(origin), "years": [int(y) for y in o["year"].values[have]]}
        for q in ("q05", "q25", "q50", "q75", "q95"):
            fan[q] = [float(v) for v in ind.untransformed(o[q].values[have])]
        out.append(fan)
    return out


def years_shown(years: list[int]) -> str:
    """Years as a reader takes them in: runs of consecutive years as ``first–last``, the others
    one by one (2016–2023; 2012, 2016, 2021; 2010–2012, 2016)."""
    runs: list[list[int]] = []
    for y in sorted(set(int(y) for y in years)):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def unscored_reasons(ds: xr.Dataset, summary: dict, indicator: str) -> list[str]:
    """Why ``indicator`` has no scored point: from the origins where it was left out, too little
    history before them (or the reason it was left out for), and from the others nothing of it
    observed in the years they forecast."""
    skipped = {int(s["origin"]): s for s in summary["skipped"] if s["indicator"] == indicator}
    scored = ds["crps"].sel(forecaster="model", indicator=indicator).notnull().any("horizon")
    short, other, empty = [], [], []
    for origin in summary["origins"]:
        if origin in skipped and skipped[origin].get("kind") == SHORT:
            short.append(origin)
        elif origin in skipped:
            other.append(f"left out from {origin} ({skipped[origin]['reason']})")
        elif not bool(scored.sel(origin=origin)):
            empty.append(f"{years_shown(list(range(origin, origin + summary['horizon'])))} from {origin}")
    if len(short) > 1 and len(short) == len(summary["origins"]):
        when = f"any origin ({years_shown(short)})"
    else:
        when = f"the origin{'s' if len(short) > 1 else ''} {years_shown(short)}"
    reasons = [f"too little history before {when} ({MIN_HISTORY} observations needed)"] if short else []
    reasons += other
    if empty:
        reasons.append(f"nothing observed in the years forecast ({', '.join(empty)})")
    return reasons


def backtest_context(scenario: Scenario, ds: xr.Dataset, summary: dict) -> dict[str, Any]:
    """What the page shows (plain values and inline figures)."""
    rows = []
    for iid, row in summary["by_indicator"].items():
        sk = row["skill"]
        rows.append({"id": iid, "label": scenario.indicators[iid].label, "points": sk["points"],
                     "coverage": row["coverage"], "skill": sk["skill"], "interval": sk.get("interval"),
                     "crps": sk["crps"],
                     "best": BASELINE_LABELS.get(sk["best_baseline"], ""),
                     "unscored": [] if sk["points"] else unscored_reasons(ds, summary, iid)})
    charts = []
    for iid, ind in scenario.indicators.items():
        found = fans(ds, scenario, iid)
        if found:
            charts.append(origins_chart(label=ind.label, history={"years": [int(y) for y in ind.years],
                                                                  "values": [float(v) for v in ind.values]},
                                        fans=found, log=ind.transform == "log", salt=f"bt-{iid}"))
    left_out: dict[str, list[int]] = {}
    for s in summary["skipped"]:
        left_out.setdefault(s["indicator"], []).append(s["origin"])
    return {
        "left_out": [{"label": scenario.indicators[i].label, "origins": o} for i, o in left_out.items()],
        "min_history": MIN_HISTORY,
        "css": stylesheet(), "scenario": summary["scenario"], "summary": summary, "headline": headline(summary),
        "origins": years_shown(summary["origins"]),
        "calibration": calibration_chart(reliability=summary["reliability"], salt="bt-cal"),
        "pit": pit_histogram(counts=summary["pit_histogram"], salt="bt-pit"),
        "rows": rows, "charts": charts, "labels": BASELINE_LABELS, "levels": LEVELS_SHOWN,
        "calibrated": CALIBRATED_90,
        "thresholds": {"rhat_ok": RHAT_OK, "rhat_warn": RHAT_WARN, "ess_per_chain": ESS_PER_CHAIN_OK},
    }


def render_backtest(directory: Path, scenario: Scenario, ds: xr.Dataset, summary: dict) -> Path:
    """Write ``report/index.html`` of a backtest directory (a staging folder)."""
    out = Path(directory) / "report"
    out.mkdir()
    page = environment().get_template("backtest.html").render(**backtest_context(scenario, ds, summary))
    (out / "index.html").write_text(page, encoding="utf-8")
    return out / "index.html"


# --- The run report's panel --------------------------------------------------------------------


def latest_backtest(folder: Path, scenario_name: str, inputs: dict[str, str] | None = None) -> dict | None:
    """The fullest ``backtest.json`` of the scenario among ``folder``'s subfolders whose inputs
    (the hashes of the scenario's files) are ``inputs``: the one with the most scored points,
    the newest of those; without one, the same among any version of the scenario's files; None
    without either. A quick one-origin check run after a full backtest does not replace it."""
    found = []
    for path in Path(folder).glob("*/backtest.json"):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a backtest this can read: as if absent
        if isinstance(summary, dict) and isinstance(summary.get("scenario"), dict) \
                and summary["scenario"].get("name") == scenario_name:
            same = inputs is not None and summary["scenario"].get("inputs") == inputs
            points = summary.get("points") if isinstance(summary.get("points"), int) else 0
            found.append((same, points, str(summary.get("created", "")), path.parent.name, summary))
    if not found:
        return None
    *_, name, summary = max(found, key=lambda f: f[:4])
    return summary | {"folder": name}


def backtest_command(folder: Path, path: str) -> str:
    """The arguments of ``forecast backtest`` that write a backtest of the scenario file ``path``
    where :func:`latest_backtest` looks for a run in ``folder``: the scenario alone when
    ``folder`` is ``reports/`` (the backtest's default root, from the working directory), else
    with ``--out FOLDER/<scenario file stem>-backtest``, absolute: the page is read later, from
    anywhere, and a path relative to where it was rendered would point elsewhere. Quoted for a
    shell."""
    folder, cwd = Path(folder).resolve(), Path.cwd().resolve()
    if folder == cwd / "reports":
        return shlex.quote(path)
    return f"{shlex.quote(path)} --out {shlex.quote(str(folder / f'{Path(path).stem}-backtest'))}"


def quality_panel(folder: Path, scenario_name: str, inputs: dict[str, str], path: str) -> dict[str, Any]:
    """The overview's "How good are these forecasts?": the sentence and a small calibration plot
    of the latest backtest of the run's own inputs (else of another version of its files, said
    so), or how to make one there (:func:`backtest_command`)."""
    summary = latest_backtest(folder, scenario_name, inputs)
    if summary is None:
        return {"found": False, "command": backtest_command(folder, path)}
    return {"found": True, "sentence": headline(summary), "notes": quality_notes(summary), "folder": summary["folder"],
            "same_inputs": summary["scenario"].get("inputs") == inputs,
            "chart": calibration_chart(reliability=summary["reliability"], salt="quality", small=True)
            if summary["points"] else None}
