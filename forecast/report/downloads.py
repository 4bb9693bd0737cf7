"""Files written beside the report's pages for other tools: the answers as CSV (question x
strategy), and the run's ``summary.json`` (every number the report shows)."""

from __future__ import annotations

import csv
import io

from forecast.report import answers
from forecast.results.store import Run

ANSWERS_CSV = "answers.csv"
SUMMARY_JSON = "summary.json"
COLUMNS = ("question", "question_text", "year", "comparison", "threshold", "reference_year", "change",
           "strategy", "strategy_label", "baseline", "probability_yes",
           "mcse", "likelihood_yes", "answer_sought", "probability_sought", "likelihood_sought", "quantity",
           "quantity_q05", "quantity_median", "quantity_q95")


def cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) is quoted with an
    apostrophe; numbers are written as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def answers_csv(summary: dict) -> str:
    """One row per question and strategy: the probability of yes with its Monte Carlo error,
    the answer sought with its probability, and the spread of the quantity compared
    (``quantity``: ``value`` in the question's year, or ``change`` since its reference year).
    The question's rule is in its own columns: yes when the value is ``comparison`` (below or
    above) its ``threshold``, or when the change since ``reference_year`` is ``comparison`` the
    ``change`` column's amount."""
    labels = {s["id"]: s for s in summary["strategies"]}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for q in summary["questions"]:
        wanted = answers.sought(summary, q)["answer"]
        kind = "value" if q.get("reference_year") is None else "change"
        for sid, r in q["by_strategy"].items():
            st = labels.get(sid, {})
            p = r["probability"]
            ps = answers.p_sought(p, wanted)
            ps = None if ps is None else round(ps, 12)  # 1 - 0.34 is 0.6599999999999999 in binary
            spread = r.get("quantity") or {}
            writer.writerow([cell(v) for v in (
                q["id"], q["text"], q["year"], q.get("comparison"), q.get("threshold"), q.get("reference_year"),
                q.get("change") if kind == "change" else None, sid, st.get("label") or sid, bool(st.get("baseline")), p,
                r.get("mcse"), answers.likelihood(p), wanted, ps, answers.likelihood(ps) if wanted else None, kind,
                spread.get("q05"), spread.get("median"), spread.get("q95"))])
    return buf.getvalue()


def downloads(run: Run) -> dict[str, bytes]:
    """File name -> content of the report's downloads. ``summary.json`` is the run's own file,
    byte for byte (its sha256 is the manifest's), or the loaded summary when there is none."""
    import json

    source = run.path / SUMMARY_JSON
    raw = source.read_bytes() if source.is_file() else b""
    if not raw or json.loads(raw) != run.summary:  # a summary given by hand (a notebook) is written as given
        raw = (json.dumps(run.summary, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return {ANSWERS_CSV: answers_csv(run.summary).encode("utf-8"), SUMMARY_JSON: raw}
