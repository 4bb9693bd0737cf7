"""The HTML report: page contexts (:mod:`~forecast.report.context`), figures
(:mod:`~forecast.report.figures`, drawn by :mod:`~forecast.report.drawing`) and rendering
(:mod:`~forecast.report.render`).

:func:`render_report` is imported when first asked for, so that the light modules here (the
words of :mod:`~forecast.report.answers`, the formatting) serve the command line's text views
without loading jinja2 and matplotlib."""

__all__ = ["render_report"]


def __getattr__(name: str):
    if name == "render_report":
        from forecast.report.render import render_report

        return render_report
    raise AttributeError(f"module 'forecast.report' has no attribute {name!r}")
