"""What a question's answers mean to a decision-maker: words for probabilities, the answer
sought, and the strategy that makes it most likely.

**Words.** A probability is given with a word from the IPCC's calibrated likelihood scale
(Mastrandrea et al., 2010, the guidance note for the IPCC's Fifth Assessment Report),
e.g. "likely (0.82)": see :data:`LIKELIHOOD`. The word comes from the number, never the other
way round, and the number is always shown with it.

**The answer sought.** A question asks whether its subject will be above or below a line.
The answer sought is the one the question marks (``desirable = "yes"`` or ``"no"``), or else
the one in the desirable direction the scenario marks for its subject (``desirable =
"higher"`` or ``"lower"`` on its node; an indicator takes its node's, reversed when it falls as
the node rises): "Is cohesion above 60?" seeks yes when higher cohesion is desirable, and
"Does cohesion fall?" seeks no. The scenario resolves this rule once
(:attr:`forecast.scenario.domain.Question.desirable`) and the summary carries it. A question
with neither has no answer sought and so no best strategy, and the report says so.

**The best strategy** for a question is the one under which the answer sought is most
probable. Strategies within Monte Carlo error of their paired difference from it are named as
tied with it: the draws cannot order them (:mod:`forecast.forecasts.questions`).

**What the data taught about a claim**, for the report and ``forecast sensitivity`` alike: its
posterior follows the data or its prior, by power-scaling sensitivity, and for a claim with
competing hypotheses whose weights the data moved, the data between them (:func:`learned_text`).
"""

from __future__ import annotations

import math
from typing import Any

from forecast.forecasts.questions import as_recorded, recorded_decision, same_as
from forecast.report.formatting import fmt
from forecast.sensitivity.analysis import PRIOR_SENSITIVE

#: The IPCC likelihood scale: (lowest probability, word, the range as the IPCC states it).
#: Read from the top: the first row whose lower bound the probability reaches gives the
#: word; probabilities of 0.33 and below take the lower half, symmetric to the upper.
LIKELIHOOD: tuple[tuple[float, str, str], ...] = (
    (0.99, "virtually certain", "99\u2013100%"),
    (0.95, "extremely likely", "95\u2013100%"),
    (0.90, "very likely", "90\u2013100%"),
    (0.66, "likely", "66\u2013100%"),
    (0.33, "about as likely as not", "33\u201366%"),
    (0.10, "unlikely", "0\u201333%"),
    (0.05, "very unlikely", "0\u201310%"),
    (0.01, "extremely unlikely", "0\u20135%"),
    (0.0, "exceptionally unlikely", "0\u20131%"),
)


#: Each upper word's mirror: the word for p is the mirror of the word for 1 - p.
MIRROR = {"virtually certain": "exceptionally unlikely", "extremely likely": "extremely unlikely",
          "very likely": "very unlikely", "likely": "unlikely"}


def likelihood(p: float | None) -> str:
    """The IPCC's word for a probability: 0.82 is "likely", 0.5 "about as likely as not",
    0.2 "unlikely". Symmetric: 0.66 is likely and 0.34 about as likely as not; 0.33 is
    unlikely and 0.10 very unlikely. The word is that of the number as the report shows it,
    to two decimals: 0.9875 is shown as 0.99 and so is "virtually certain", like 0.99 itself."""
    if p is None or math.isnan(p):
        return "not available"
    p = round(p, 2)
    if p >= 0.66:
        return next(word for lo, word, _ in LIKELIHOOD if p >= lo)
    if p > 0.33:
        return "about as likely as not"
    return MIRROR[likelihood(1.0 - p)]


def likelihood_key() -> list[dict[str, str]]:
    """The scale as the report prints it beside the words."""
    return [{"word": word, "range": rng} for _, word, rng in LIKELIHOOD]


def direction(s: dict, subject: str) -> tuple[str, str]:
    """The desirable direction of a question's subject ("higher", "lower" or "neither"), and
    the node it comes from (an indicator's node; reversed when the indicator falls as it rises)."""
    nodes, indicators = s["nodes"], s.get("indicators") or {}
    if subject in nodes:
        return nodes[subject].get("desirable", "neither"), subject
    ind = indicators.get(subject)
    if ind is None or ind.get("node") not in nodes:
        return "neither", subject
    wanted = nodes[ind["node"]].get("desirable", "neither")
    if ind.get("direction", "+") == "-" and wanted in ("higher", "lower"):
        wanted = "lower" if wanted == "higher" else "higher"
    return wanted, ind["node"]


def sought(s: dict, question: dict) -> dict[str, Any]:
    """The answer sought (``"yes"``, ``"no"``, or None when none is marked) and why, by the
    rule in the module's docstring: the scenario's own (``desirable_answer`` in the summary)."""
    wanted, node = direction(s, question["subject"])
    label = s["nodes"].get(node, {}).get("label", node)
    by_direction = None
    if wanted in ("higher", "lower"):
        by_direction = "yes" if (question["comparison"] == "above") == (wanted == "higher") else "no"
    answer = question.get("desirable_answer", by_direction)  # older summaries: the direction's
    if answer is None and by_direction is not None:
        return {"answer": None, "why": f"the question marks neither answer as better (desirable = \"neither\"), "
                                       f"whatever the direction of {label}, so no strategy is best for it"}
    if answer is None:
        return {"answer": None, "why": f"neither the question nor {label} marks an answer as better, so no strategy "
                                       "is best for it (set desirable on the question or its node)"}
    if answer != by_direction:
        return {"answer": answer, "why": "the question marks it"}
    if node == question["subject"]:
        return {"answer": answer, "why": f"{wanted} is better"}
    # an indicator's question: the node's own direction, with the node's label (``wanted`` is
    # the indicator's, reversed when it falls as the node rises)
    return {"answer": answer, "why": f"{s['nodes'][node].get('desirable')} is better for {label}"}


def p_sought(p: float | None, answer: str | None) -> float | None:
    """The probability of the answer sought, from the probability of yes (None when no answer is sought)."""
    return None if p is None or answer is None else (p if answer == "yes" else 1.0 - p)


def p_sought_shown(p: float | None, answer: str | None, digits: int = 2) -> float | None:
    """:func:`p_sought` as it is shown beside the probability of yes: P(no) is 1 minus P(yes)
    as rounded, so that the two numbers shown add to 1 (P(yes) 0.085 shows as 0.09, and its
    P(no) as 0.91, where 0.915 would round to 0.92)."""
    return None if p is None or answer is None else (p if answer == "yes" else 1.0 - round(p, digits))


def decision(s: dict, question: dict) -> dict | None:
    """The question's best strategy and those tied with it, as the run decided them (the paired
    rule of :mod:`forecast.forecasts.questions`), None when no answer is sought. A summary
    older than the question's own decision gives its sensitivity analysis's, or else the most
    probable strategy with no word on ties (``tied`` None)."""
    found = recorded_decision(s, question, default=(unrecorded := object()))
    if found is not unrecorded:
        return found
    want = sought(s, question)["answer"]
    if want is None:
        return None
    p = {sid: p_sought(r["probability"], want) for sid, r in question["by_strategy"].items()}
    return {"desirable": want, "best": max(p, key=lambda k: -1.0 if p[k] is None else p[k]), "utilities": p,
            "tied": None}


#: A hypothesis weight that moved by more than this (and twice its Monte Carlo error) was moved
#: by the data.
WEIGHT_MOVED = 0.1


#: P(sign as claimed) has moved when it moved by more than this, and by more than twice its
#: Monte Carlo error.
SIGN_MOVED = 0.05
#: The effect's size has moved when its median moved by this many prior standard deviations,
#: or its 90% interval narrowed by this share.
SIZE_SHIFT, SIZE_NARROWED = 0.5, 0.3


def evidence_moved(claim: dict) -> str | None:
    """What the data moved in a claim (its entry in the summary), beyond Monte Carlo error:
    "sign up" or "sign down" (P(sign as claimed)), else "size" (its median, or the width of its
    90% interval), else None; None too when no data can bear on it."""
    pr, po = claim.get("prior") or {}, claim.get("posterior") or {}
    if claim.get("informed") is False or pr.get("p_sign") is None or po.get("p_sign") is None:
        return None
    moved = po["p_sign"] - pr["p_sign"]
    noise = max(SIGN_MOVED, 2 * (po.get("p_sign_mcse") or 0.0))
    if abs(moved) > noise:
        return "sign up" if moved > 0 else "sign down"
    shift = abs(po["median"] - pr["q50"]) / pr["sd"] if pr.get("sd") else 0.0
    narrowed = 1.0 - (po["q95"] - po["q05"]) / (pr["q95"] - pr["q05"]) if pr["q95"] > pr["q05"] else 0.0
    return "size" if shift >= SIZE_SHIFT or narrowed >= SIZE_NARROWED else None


def learned_text(found: dict | None, claim: dict | None = None,
                 threshold: float = PRIOR_SENSITIVE) -> tuple[str, str]:
    """What the data taught about a claim, in words and a note with the numbers behind them.
    A claim with competing hypotheses whose weights the data moved is said to follow the data
    between its hypotheses even when, within the favoured one, its narrow prior still shapes the
    posterior (which is what a high prior sensitivity then measures). A prior-sensitive claim
    whose sign or size the data moved (:func:`evidence_moved`, what the claims section says) is
    said to follow both: the two measures answer different questions, and neither alone is the
    whole story. ``threshold``: the prior sensitivity from which the prior is said to shape the
    posterior (the analysis's ``prior_sensitive``), named beside the number so that it reads."""
    if not found:
        return "n/a", ""
    if claim and claim.get("informed") is False:  # what the claims section says too (claim_verdict)
        return "its prior alone", "no data bear on it: no indicator measures its effect or anything that effect drives"
    word = "the data" if found.get("driven_by") == "data" else "its prior"
    narrowed, noise = found.get("contraction"), found.get("contraction_noise") or 0.0
    if narrowed is None:
        width = "the prior has no finite variance to narrow"
    elif narrowed <= noise:  # one phrase for "not narrowed", with its numbers when there are any
        width = "prior variance not narrowed" + (
            f" beyond sampling noise ({100 * max(narrowed, 0.0):.0f}%, noise {100 * noise:.0f}%)" if noise else "")
    else:
        width = f"prior variance narrowed by {100 * narrowed:.0f}%"
    sensitivity = found.get("prior_sensitivity")
    scale = "" if sensitivity is None else (
        f" (below {fmt(threshold)}: the data drive it)" if found.get("driven_by") == "data" else
        f" ({fmt(threshold)} or above: its prior still shapes it)")
    note = f"prior sensitivity {fmt(sensitivity, 3)}{scale}; {width}"
    hypotheses = (claim or {}).get("hypotheses") or {}
    moved = [h for h in hypotheses.values() if h.get("posterior_weight") is not None and abs(
        h["posterior_weight"] - h["prior_weight"]) > max(WEIGHT_MOVED, 2 * (h.get("posterior_weight_mcse") or 0.0))]
    if moved:
        weights = ", ".join(f"{h['label'] or hid} {fmt(h['prior_weight'])} \u2192 {fmt(h['posterior_weight'])}"
                            for hid, h in hypotheses.items())
        if word == "its prior":
            word = "the data, between its hypotheses; its prior, within them"
        note += f"; hypothesis weights {weights}"
    elif word == "its prior" and claim and evidence_moved(claim):
        word = "both the data and its prior"
        note += f"; {MOVED[evidence_moved(claim)]}, and scaling its prior still moves it"
    return word, note


#: What :func:`evidence_moved` found, as a clause.
MOVED = {"sign up": "the data made its claimed sign more likely", "sign down": "the data made its claimed sign less "
         "likely", "size": "the data moved its size"}


def tie_phrase(decision: dict, by_id: dict[str, dict]) -> str:
    """How the best strategy is tied: "tied within Monte Carlo error with C" ("" when the choice
    is clear). Strategies identical to it for the question are not tied (:func:`same_phrase`)."""
    tied = (as_recorded(decision) or {}).get("tied") or []
    return "tied within Monte Carlo error with " + ", ".join(_label(by_id, t) for t in tied) if tied else ""


#: Why strategies give the same answer in every draw, said once wherever they are named together.
IDENTICAL_WHY = "the same answer in every draw: what sets them apart changes no draw's answer to this question"


def same_phrase(decision: dict, by_id: dict[str, dict], sid: str | None = None) -> str:
    """The strategies identical to ``sid`` (the best when None) for the question, as one option
    with it: "identical for this question to A (the same answer in every draw: ...)", or ""."""
    recorded = as_recorded(decision) or {}
    same = same_as(recorded.get("identical") or [], sid or recorded.get("best", ""))
    if not same:
        return ""
    return f"identical for this question to {', '.join(_label(by_id, t) for t in same)} ({IDENTICAL_WHY})"


def option_label(decision: dict | None, by_id: dict[str, dict], sid: str) -> str:
    """A strategy as an option of the question: its label, and those identical to it for the
    question after " = " ("Conciliatory engagement = Engage Russia, contain China")."""
    same = same_as((as_recorded(decision) or {}).get("identical") or [], sid)
    return " = ".join(_label(by_id, t) for t in (sid, *same))


def _label(by_id: dict[str, dict], sid: str) -> str:
    return by_id.get(sid, {"label": sid})["label"]
