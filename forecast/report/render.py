"""The HTML report of a run: an overview comparing the strategies, one page per strategy, and
the answers as CSV with the run's summary.json beside them (:mod:`forecast.report.downloads`).

The pages' contexts come from :mod:`forecast.report.context`; the Jinja templates in
``forecast/report/templates`` only loop and branch. Figures are inline SVG
(:mod:`forecast.report.figures`) and the stylesheet is inlined, so each page opens from disk
with no network and can be mailed as one file.

The pages are written to a staging folder beside the report's and put in place in one step:
a failed or interrupted render leaves the previous report untouched.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from forecast import interrupts
from forecast.report.context import GENERATOR, INDEX, overview_context, shared_context, strategy_context
from forecast.report.downloads import downloads
from forecast.report.drawing import deferred_figures, draw_figures
from forecast.results.staging import RunError, claim, discard, replace_folder, sibling_dir
from forecast.results.store import MANIFEST, Run


def render_report(run: Run, out: Path, *, replace: bool = False) -> Path:
    """Render the report of ``run`` into the directory ``out``; returns the path of index.html.

    ``out`` must not exist (or be empty) unless ``replace`` is true, in which case an earlier
    report there is swapped out in one step. A directory that is not a report is never
    replaced, so a mistyped ``--out`` cannot delete anything else.
    """
    out = Path(out)
    _not_another_runs(out, run)
    with claim(out):  # no other process renders into it meanwhile
        _check_target(out, replace=replace)
        files = {name: html.encode("utf-8") for name, html in render_pages(run, out).items()} | downloads(run)
        _write_files(out, files)
    return out / INDEX


def render_pages(run: Run, out: Path | None = None) -> dict[str, str]:
    """File name -> HTML of every page (the overview, then one page per strategy), for the
    folder ``out`` (by default the run's ``report/``), which links to other folders start from.

    The pages' contexts are built first, with their figures only listed; the figures are
    then drawn together (:func:`draw_figures`, in parallel where the machine allows) and the
    templates rendered last.
    """
    env = environment()
    with deferred_figures() as pending:
        shared = shared_context(run)
        contexts = {INDEX: ("index.html", overview_context(run, shared, out or run.path / "report"))}
        for s in shared["strategies"]:
            contexts[s["href"]] = ("strategy.html", strategy_context(run, shared, s["id"]))
    draw_figures(pending)
    return {name: env.get_template(template).render(**context) for name, (template, context) in contexts.items()}


@cache
def environment() -> jinja2.Environment:
    """Jinja with autoescaping on for everything: scenario text is data, never markup."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("forecast.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# --- Writing ----------------------------------------------------------------------------------


def _is_report(path: Path) -> bool:
    index = path / INDEX
    if not index.is_file():
        return False
    with index.open(encoding="utf-8", errors="replace") as fh:
        return f'<meta name="generator" content="{GENERATOR}">' in fh.read(4096)


def _not_another_runs(out: Path, run: Run) -> None:
    """Refuse a folder inside another run directory (its ``report/``, say): the pages there
    would be this run's beside the other's results, and nothing would tell them apart."""
    try:
        owner = next((d for d in Path(out).resolve().parents if (d / MANIFEST).is_file()), None)
    except OSError:
        return
    if owner is not None and owner != run.path.resolve():
        raise RunError(f"{out} is inside the run directory {owner}, not this run's ({run.path}): its report would "
                       "stand beside another run's results; choose another --out")


def _check_target(out: Path, *, replace: bool) -> None:
    """Refuse before any work: an existing report without ``replace``, or anything else there."""
    try:
        if not out.exists():
            return
        if not out.is_dir():
            raise RunError(f"{out} exists and is not a directory; choose another output directory for the report")
        if not any(out.iterdir()):
            return
        is_report = _is_report(out)
    except OSError as exc:
        raise RunError(f"{out} cannot be checked: {exc.strerror}; choose another output directory") from None
    if not replace:
        raise RunError(f"{out} already exists; a report is not overwritten unless asked: remove it, choose "
                       "another directory, or re-render with `forecast report RUN_DIR` (which replaces it)")
    if not is_report:
        raise RunError(f"{out} is not empty and is not a report written by forecast; refusing to replace it. "
                       "Choose a new or empty directory for --out")
    others = sorted(p.name for p in out.iterdir() if not _written_by_report(p))
    if others:  # replacing the folder would delete them
        listed = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise RunError(f"{out} holds {listed}, which forecast report did not write; replacing the report would delete "
                       f"{'them' if len(others) > 1 else 'it'}: move {'them' if len(others) > 1 else 'it'} out, or "
                       "give another --out")


def _written_by_report(path: Path) -> bool:
    """Whether ``path`` (in a report's folder) is a file a report writes: its pages
    (index.html, strategy-ID.html) and its downloads."""
    from forecast.report.downloads import ANSWERS_CSV, SUMMARY_JSON

    if not path.is_file() or path.is_symlink():
        return False
    return path.name in (INDEX, ANSWERS_CSV, SUMMARY_JSON) or (path.name.startswith("strategy-")
                                                               and path.suffix == ".html")


def _write_files(out: Path, files: dict[str, bytes]) -> None:
    """Write into a staging folder beside ``out``, then put it in place in one step; an earlier
    report there is removed once the new one is in (:mod:`forecast.results.staging`)."""
    tmp = sibling_dir(out)
    try:
        for name, content in files.items():
            (tmp / name).write_bytes(content)
        interrupts.check()
        replace_folder(tmp, out)
    except OSError as exc:
        discard(tmp)
        raise RunError(f"writing the report to {out} failed: {exc.strerror or exc}; the earlier report, if any, "
                       "is unchanged: check the disk and the permissions, and try again") from None
    except BaseException:
        discard(tmp)
        raise
