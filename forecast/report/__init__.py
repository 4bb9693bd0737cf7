"""The HTML report: page contexts (:mod:`~forecast.report.context`), figures
(:mod:`~forecast.report.figures`, drawn by :mod:`~forecast.report.drawing`) and rendering
(:mod:`~forecast.report.render`)."""

from forecast.report.render import render_report

__all__ = ["render_report"]
