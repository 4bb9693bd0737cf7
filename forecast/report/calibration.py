"""The HTML page of a simulation-based calibration (:mod:`forecast.calibration.sbc`).

The page reads only the calibration's summary and ranks: a sentence on what was found and,
always, what limits it (too few simulations, fits that did not pass their diagnostics,
simulations that ended in an error: a flag resting on the first two is a warning, not a proven
miscalibration), the uniformity test per parameter (flagged ones marked), per parameter the ECDF of its fractional
ranks minus the uniform CDF, inside the test's simultaneous band (a parameter whose line
leaves the shaded band fails its own test; one that leaves the dashed band fails even after
allowing for the number of parameters tested), the fits' verdicts and the settings. Figures are
drawn with the run report's style (:mod:`forecast.report.figures`) and inlined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup

from forecast.calibration.sbc import FEW_SIMULATIONS, caveats, ecdf_band, ecdf_counts
from forecast.report.context import stylesheet
from forecast.report.figures import PALETTE, frame, plain_axes, styled, text, to_svg
from forecast.report.render import environment

#: The parameters' families, in the page's order, with what each is.
FAMILIES = {
    "baseline": "Baselines (each node's level)",
    "persistence": "Persistence (how slowly the transitory part reverts)",
    "volatility": "Volatility (sd of the transitory shocks)",
    "shift": "Shifts (sd of the moving level's yearly shifts)",
    "effect": "Effects of the claims",
    "hypothesis": "Competing hypotheses (the true one's place among the posterior weights)",
    "intercept": "Measurement intercepts",
    "loading": "Measurement loadings",
    "noise": "Measurement noise",
}
BAND_FILL, FAMILY_LINE = "#d9d9d9", "#555555"


def family(label: str) -> str:
    return label.split("[", 1)[0]


def headline(summary: dict) -> str:
    """One sentence: how many parameters' ranks were uniform, and which were not; a flag that
    rests on too few simulations or on fits that did not pass their diagnostics is called a
    warning, not a proven miscalibration (the page lists every caveat, :func:`caveats`, under it)."""
    u = summary["uniformity"]
    tested, flagged = len(u["parameters"]), u["flagged"]
    if not tested:
        return "No simulation finished: there are no ranks to test."
    runs = f"Over {summary['completed']} simulations ({u['L']} posterior draws kept each)"
    if not flagged:
        return (f"{runs}, the ranks of all {tested} parameters are consistent with uniform (no Holm-adjusted p-value "
                f"at or below {u['alpha']:g})" + (", within the limits below." if caveats(summary) else
                                                   ": the fits recover what the prior drew."))
    found = (f"{runs}, {len(flagged)} of {tested} parameters have ranks that are not uniform (Holm-adjusted p ≤ "
             f"{u['alpha']:g}): {', '.join(flagged)}.")
    weak = weak_grounds(summary)
    if not weak:
        return f"{found} Their posteriors are miscalibrated: see the shape of each below."
    return (f"{found} That rests on {' and on '.join(weak)}: a warning to look into, not a proven miscalibration; "
            "see the limits below, then the shape of each.")


def weak_grounds(summary: dict) -> list[str]:
    """What a flag rests on that falls short of proof, in words: too few simulations, fits that
    did not pass their diagnostics (their ranks can fake a miscalibration). Empty when neither."""
    n, v = summary["completed"], summary["verdicts"]
    out = [f"only {n} simulations"] if n < FEW_SIMULATIONS else []
    unclean = v.get("warn", 0) + v.get("fail", 0)
    if unclean:
        out.append(f"{unclean} of {n} fits that did not pass their diagnostics, whose ranks can fake a miscalibration")
    return out


def verdict(summary: dict) -> dict | None:
    """The page's badge, ``{"words", "kind"}`` (ok, warn or fail), or None when nothing was
    tested: "calibrated" only with no caveat; a flag on weak grounds (:func:`weak_grounds`) is
    a suspicion."""
    u = summary["uniformity"]
    if not u["parameters"]:
        return None
    if u["flagged"]:
        return ({"words": "miscalibration suspected", "kind": "warn"} if weak_grounds(summary)
                else {"words": "not calibrated", "kind": "fail"})
    return {"words": "uniform, within limits", "kind": "warn"} if caveats(summary) else \
        {"words": "calibrated", "kind": "ok"}


def title(label: str, flagged: bool, width: int = 26) -> str:
    """A chart's title: the label on one line if it fits (``width`` characters), else broken
    after its ``[`` (labels have no spaces to wrap at) and long ids cut into pieces;
    ``(flagged)`` after the name."""
    mark = "  (flagged)" if flagged else ""
    if len(label + mark) <= width:
        return text(label + mark)
    name, _, rest = label.partition("[")
    pieces = [rest[i:i + width + 2] for i in range(0, len(rest), width + 2)] if rest else []
    return text("\n".join([name + ("[" if rest else "") + mark, *pieces]))


@styled
def ecdf_chart(*, label: str, ranks: list[int], L: int, band: dict, family_band: dict, flagged: bool,
               salt: str) -> Markup:
    """The ECDF of a parameter's fractional ranks minus the uniform CDF, with the simultaneous
    band of its own test (shaded) and the band allowing for every parameter tested (dashed)."""
    fig, ax = frame(2.9, 2.4, left=0.6, top=0.52, bottom=0.45)
    x = np.asarray(band["x"])
    ax.fill_between(x, np.asarray(band["lower"]) - x, np.asarray(band["upper"]) - x, color=BAND_FILL, linewidth=0,
                    step="post")
    for edge in ("lower", "upper"):
        ax.plot(x, np.asarray(family_band[edge]) - x, color=FAMILY_LINE, linewidth=0.8, linestyle=(0, (3, 2)),
                drawstyle="steps-post")
    n = len(ranks)
    ecdf = np.concatenate([[0.0], ecdf_counts(np.asarray(ranks, dtype=int), L) / n, [1.0]])
    ax.plot(x, ecdf - x, color=PALETTE[1] if flagged else PALETTE[0], linewidth=1.6, drawstyle="steps-post")
    ax.axhline(0.0, color="#999999", linewidth=0.6)
    ax.set_xlim(0, 1)
    ax.set_title(title(label, flagged), loc="left")
    ax.set_xlabel("fractional rank")
    plain_axes(ax)
    return to_svg(fig, salt=salt, alt=f"{label}: ECDF of the fractional ranks minus the uniform CDF"
                                      f"{', outside its band: flagged' if flagged else ''}")


def calibration_context(summary: dict, ranks: dict[str, np.ndarray]) -> dict[str, Any]:
    """What the page shows (plain values and inline figures)."""
    u = summary["uniformity"]
    L, tested = u["L"], u["parameters"]
    order = [p for p in summary["parameters"] if p in tested] + [p for p in tested if p not in summary["parameters"]]
    rows = [{"label": p, "family": family(p), **tested[p], "autocorrelated": summary["autocorrelated"].get(p)}
            for p in order]
    groups: list[dict] = []
    sizes = {int(t["n"]) for t in tested.values()}
    bands = {n: (ecdf_band(n, L, 1 - u["alpha"]), ecdf_band(n, L, 1 - u["alpha"] / max(len(tested), 1)))
             for n in sizes}
    for fam, title in FAMILIES.items():
        members = [p for p in order if family(p) == fam]
        if not members:
            continue
        charts = []
        for i, p in enumerate(members):
            own, everyone = bands[int(tested[p]["n"])]
            charts.append(ecdf_chart(label=p, ranks=[int(r) for r in ranks[p]], L=L, band=own, family_band=everyone,
                                     flagged=tested[p]["flagged"], salt=f"sbc-{fam}-{i}"))
        groups.append({"title": title, "charts": charts})
    return {
        "css": stylesheet(), "summary": summary, "scenario": summary["scenario"], "headline": headline(summary),
        "verdict": verdict(summary), "caveats": caveats(summary), "rows": rows, "groups": groups, "uniformity": u, "settings": summary["settings"],
        "family_level": 1 - u["alpha"] / max(len(tested), 1),
    }


def render_calibration(directory: Path, summary: dict, ranks: dict[str, np.ndarray]) -> Path:
    """Write ``report/index.html`` of a calibration directory (the summary of
    :func:`forecast.calibration.sbc.summarise` and the ranks of :func:`~forecast.calibration.sbc.ranks_of`)."""
    out = Path(directory) / "report"
    out.mkdir(parents=True, exist_ok=True)
    page = environment().get_template("calibration.html").render(**calibration_context(summary, ranks))
    (out / "index.html").write_text(page, encoding="utf-8")
    return out / "index.html"
