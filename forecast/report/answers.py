"""What a question's answers mean to a decision-maker: words for probabilities, the answer
sought, and the strategy that makes it most likely.

**Words.** A probability is given with a word from the IPCC's calibrated likelihood scale
(Mastrandrea et al., 2010, the guidance note for the IPCC's Fifth Assessment Report),
e.g. "likely (0.82)": see :data:`LIKELIHOOD`. The word comes from the number, never the other
way round, and the number is always shown with it.

**The answer sought.** A question asks whether its subject will be above or below a line.
When the scenario marks a desirable direction for the subject (``desirable = "higher"`` or
``"lower"`` on its node; an indicator takes its node's, reversed when it falls as the node
rises), the answer sought is the one in that direction: "Is cohesion above 60?" seeks yes
when higher cohesion is desirable, and "Does cohesion fall?" seeks no. When the subject has
no desirable direction, the question's yes is taken as the answer sought (the question was
written to ask for it), and the report says so.

**The best strategy** for a question is the one under which the answer sought is most
probable. Strategies within Monte Carlo error of it are named as tied with it: the data
cannot order them.
"""

from __future__ import annotations

import math
from typing import Any

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
    unlikely and 0.10 very unlikely."""
    if p is None or math.isnan(p):
        return "not available"
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
    """The answer sought (``"yes"`` or ``"no"``) and why, by the rule in the module's docstring."""
    wanted, node = direction(s, question["subject"])
    label = s["nodes"].get(node, {}).get("label", node)
    if wanted not in ("higher", "lower"):
        return {"answer": "yes", "why": f"no desirable direction is set for {label}: the question's yes is "
                                        "taken as the answer sought", "from_direction": False}
    yes = (question["comparison"] == "above") == (wanted == "higher")
    why = f"{wanted} is better" if node == question["subject"] else f"{wanted} {label} is better"
    return {"answer": "yes" if yes else "no", "why": why, "from_direction": True}


def p_sought(p: float | None, answer: str) -> float | None:
    """The probability of the answer sought, from the probability of yes."""
    return None if p is None else (p if answer == "yes" else 1.0 - p)


def ranking(question: dict, strategy_ids: list[str], answer: str) -> list[dict[str, Any]]:
    """Strategies by the probability of the answer sought, best first, each marked ``tied``
    when it is within Monte Carlo error of the best (two combined standard errors; strategies
    that do not move the subject give the same draws, and so exactly the same answer)."""
    rows = []
    for sid in strategy_ids:
        r = question["by_strategy"].get(sid)
        if r is None:
            continue
        rows.append({"strategy": sid, "p": p_sought(r["probability"], answer), "mcse": r.get("mcse") or 0.0})
    rows.sort(key=lambda x: -1.0 if x["p"] is None else x["p"], reverse=True)
    if rows and rows[0]["p"] is not None:
        best = rows[0]
        for x in rows:
            x["tied"] = x["p"] is not None and best["p"] - x["p"] <= 2 * math.hypot(best["mcse"], x["mcse"])
    return rows
