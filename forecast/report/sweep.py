"""The HTML page of a sweep: how each answer varies across the variants, which variants flip
a question's best strategy, and which failed their diagnostics.

It reads only the sweep's dataset (``sweep.nc``). The scenario as written is the reference:
per question a strip chart shows each strategy's answer under every variant (dots) and as
written (a diamond), so the spread the variants cause is read against the Monte Carlo error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from markupsafe import Markup

from forecast.files import write_atomically
from forecast.report.context import stylesheet
from forecast.report.figures import PALETTE, frame, plain_axes, styled, text, to_svg
from forecast.report.render import environment
from forecast.scenario.domain import Scenario
from forecast.sweeps.results import flips, kind_of_flip


@styled
def spread_chart(*, label: str, strategies: list[str], values: np.ndarray, reference: np.ndarray,
                 salt: str) -> Markup:
    """One row per strategy: its answer under each variant (dots) and as written (diamond)."""
    fig, ax = frame(5.6, 0.75 + 0.38 * len(strategies), left=2.2, top=0.55, bottom=0.5)
    rng = np.random.default_rng(0)  # the jitter only separates dots; the same on every render
    for i, s in enumerate(strategies):
        y = i + rng.uniform(-0.12, 0.12, values.shape[0])
        ax.plot(values[:, i], y, linestyle="none", marker="o", markersize=3.5, alpha=0.55,
                color=PALETTE[i % len(PALETTE)])
        ax.plot([reference[i]], [i], linestyle="none", marker="D", markersize=6, color="black")
    ax.set_yticks(range(len(strategies)), [text(s, 34) for s in strategies])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title(text(label, 64), loc="left", x=-0.55, fontsize=9.5)
    ax.set_xlabel("probability of yes")
    plain_axes(ax, y=False)
    return to_svg(fig, salt=salt, alt=f"{label}: each strategy's probability under every variant")


#: What a change varies, in words, by its key's first part; ``scenario`` alone is a whole file.
VARIED = {"claims": "priors", "nodes": "priors", "indicators": "priors", "scenario": "scenario settings",
          "strategies": "strategy settings", "questions": "questions"}


def varied(ds: xr.Dataset) -> list[str]:
    """What the variants vary, in words, in the order first met: "priors", "strategy settings",
    "scenario files" (a whole alternative file), ... by the key paths each changes."""
    found: list[str] = []
    for keys in ds["changed_keys"].values:
        for key in filter(None, str(keys).split("; ")):
            word = "scenario files" if key == "scenario" else VARIED.get(key.split(".", 1)[0])
            if word and word not in found:
                found.append(word)
    return found


def subtitle(ds: xr.Dataset) -> str:
    """The page's question, by what the variants vary."""
    words = varied(ds)
    if not words:
        return "Does the conclusion survive the variants?"
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return f"Does the conclusion survive other {listed}?"


def caveat(ds: xr.Dataset) -> tuple[str, str] | None:
    """A warning for the top of the page when variants have no answers (their fit ended in an
    error) or answers the sampler's diagnostics fail, with its level ("fail" or "warn"); None
    when every variant's fit is clean enough to read. Without the scenario as written there is
    no reference to flip, which the page must say rather than report "no flips"."""
    verdicts = [str(v) for v in ds["verdict"].values]
    n = len(verdicts)
    errors, failed = verdicts.count("failed"), verdicts.count("fail")
    if not errors and not failed:
        return None
    parts = []
    if errors == n:
        parts.append("every variant ended in an error and has no answers")
    elif errors:
        parts.append(f"{errors} of {n} variants ended in an error and {'have' if errors > 1 else 'has'} no answers")
    if failed:
        parts.append(f"{failed} of {n} failed the sampler's diagnostics: {'their' if failed > 1 else 'its'} answers "
                     "are not to be trusted")
    text = "; ".join(parts) + " (see below)."
    if verdicts[0] == "failed":
        text += (f" The reference, {ds['variant'].values[0]}, is among them: no variant's best strategy can be set "
                 "against it.")
    elif verdicts[0] == "fail":
        text += (f" The reference, {ds['variant'].values[0]}, is among them: the flips below are set against answers "
                 "that are not to be trusted.")
    return text[0].upper() + text[1:], "fail" if errors == n or verdicts[0] in ("failed", "fail") else "warn"


def sweep_context(scenario: Scenario, ds: xr.Dataset) -> dict[str, Any]:
    """What the page shows: per question the chart and the variants that flip its best
    strategy; the variants that failed or whose diagnostics are not clean."""
    texts = {q.id: q.text for q in scenario.questions}
    strategies = [str(s) for s in ds["strategy"].values]
    questions = []
    for qi, q in enumerate(ds["question"].values):
        p = ds["probability"].sel(question=q).values
        label = texts.get(str(q), str(q))
        questions.append({"id": str(q), "label": label,
                          "chart": spread_chart(label=label, strategies=strategies, values=p[1:] if len(p) > 1 else p,
                                                reference=p[0], salt=f"sweep-{qi}")})
    unclean = [{"variant": str(v), "verdict": str(ds["verdict"].sel(variant=v).values),
                "error": str(ds["error"].sel(variant=v).values), "changes": str(ds["changes"].sel(variant=v).values)}
               for v in ds["variant"].values if str(ds["verdict"].sel(variant=v).values) != "ok"]
    found = [f | {"question": texts.get(f["question"], f["question"]),
                  "changes": str(ds["changes"].sel(variant=f["variant"]).values)} for f in flips(ds)]
    return {"css": stylesheet(), "name": scenario.name, "variants": int(ds.sizes["variant"]), "subtitle": subtitle(ds),
            "reference": str(ds["variant"].values[0]), "questions": questions,
            "flips": [f for f in found if kind_of_flip(f) == "flip"],
            "unchosens": [f for f in found if kind_of_flip(f) == "unchosen"],
            "ties": [f for f in found if kind_of_flip(f) == "tie"],
            "unclean": unclean, "caveat": caveat(ds), "reference_answered": str(ds["verdict"].values[0]) != "failed",
            "table": [{"name": str(v), "changes": str(ds["changes"].sel(variant=v).values),
                       "verdict": str(ds["verdict"].sel(variant=v).values)} for v in ds["variant"].values]}


def render_sweep(directory: Path, scenario: Scenario, ds: xr.Dataset) -> Path:
    """Write ``report/index.html`` of a sweep directory (replacing an earlier one)."""
    out = Path(directory) / "report"
    out.mkdir(exist_ok=True)
    page = environment().get_template("sweep.html").render(**sweep_context(scenario, ds))
    write_atomically(out / "index.html", page)
    return out / "index.html"
