"""The ``forecast`` command: a thin click shell over :mod:`forecast.pipeline`.

Exit codes: 0 success; 1 a bad scenario file, data file, run directory, resolutions file or
ledger, or an output that cannot be written (the message names the file, the key or row and the
fix; nothing is written); 2 bad command-line usage; 3 the run finished but its sampling
diagnostics are not clean and ``--strict`` was given (results are written); 130 and 143 (128 +
the signal's number) stopped by SIGINT (Ctrl-C) or SIGTERM, with nothing written.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import click

from forecast.interrupts import Interrupted  # the standard library only

# A light module (no PyMC): the settings' defaults and choices are written once, there.
from forecast.scoring.scores import RELIABILITY_MIN
from forecast.settings import MAX_SEED, RANGES, SAMPLERS, TARGET_ACCEPT_RANGE, SamplerSettings

DEFAULTS = {name: SamplerSettings.default(name) for name in ("draws", "tune", "chains", "sampler", "target_accept")}

EXIT_BAD_INPUT, EXIT_USAGE, EXIT_DIAGNOSTICS = 1, 2, 3


class Whole(click.IntRange):
    """A whole number in ASCII digits, within a range: Python's ``int`` also reads "５０" and
    "1_0", which a data file is refused for (:func:`forecast.scenario.data.read_table`)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
            self.fail(f"{value!r} is not a whole number written in the digits 0-9", param, ctx)
        return super().convert(value, param, ctx)


class Decimal(click.FloatRange):
    """A number in ASCII digits (with a point and an exponent), within a range: ``float`` also
    reads "０.９", "nan" and "1_0"."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not re.fullmatch(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*",
                                                        value):
            self.fail(f"{value!r} is not a number written in the digits 0-9", param, ctx)
        return super().convert(value, param, ctx)


#: Each command's exit codes, listed in its --help (a command lists only those it can return).
EXIT_CODES = {
    0: "success",
    1: "bad scenario or data file, a sampler that cannot start, or an output that cannot be written (nothing "
       "written)",
    2: "bad command-line usage",
    3: "--strict and the sampling diagnostics are not clean (results written)",
    130: "interrupted (Ctrl-C, SIGINT); nothing written",
    143: "terminated (SIGTERM); nothing written",
}


def epilog(*codes: int, what: dict[int, str] | None = None) -> str:
    """The "Exit codes" section of a --help page, for the codes a command returns (every
    command can be interrupted: 130 and 143 are always listed)."""
    what = {**EXIT_CODES, **(what or {})}
    codes = tuple(dict.fromkeys((*codes, 130, 143)))
    return "\b\nExit codes:\n" + "".join(f"  {c:<4} {what[c]}\n" for c in codes)


EPILOG = epilog(0, 1, 2, 3)


def sampler_options(command=None, **defaults):
    """The sampler's options (--draws, --tune, --chains, --seed, --sampler, --target-accept),
    the same for every command that samples; ``defaults`` overrides a run's (``draws=200``)."""
    d = {**DEFAULTS, **defaults}
    options = (
        click.option("--draws", default=d["draws"], show_default=True, type=Whole(*RANGES["draws"]),
                     help="Posterior draws per chain. With competing hypotheses, each of their fits "
                          "draws this many, and the forecasts draw this many from their mixture."),
        click.option("--tune", default=d["tune"], show_default=True, type=Whole(*RANGES["tune"]),
                     help="Tuning steps per chain."),
        click.option("--chains", default=d["chains"], show_default=True, type=Whole(*RANGES["chains"]),
                     help="Independent chains."),
        click.option("--seed", type=Whole(0, MAX_SEED), default=None,
                     help="Random seed [default: the scenario's seed]."),
        click.option("--sampler", type=click.Choice(SAMPLERS), default=d["sampler"], show_default=True,
                     help="nutpie (fast, default) or PyMC's own NUTS."),
        click.option("--target-accept", default=d["target_accept"], show_default=True,
                     type=Decimal(*TARGET_ACCEPT_RANGE),
                     help="NUTS target acceptance rate; higher means smaller steps."),
    )

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f

    return decorate(command) if command is not None else decorate


def cluster_options(f):
    """Where many fits run: --workers (local Dask processes) or --scheduler (a cluster)."""
    f = click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="An existing Dask scheduler (tcp://HOST:PORT); its workers run the fits.")(f)
    return click.option("--workers", type=Whole(0, 1024), default=None,
                        help="Local Dask worker processes [default: the number of cores]; 0 fits in this process.")(f)


def cluster_of(workers: int | None, scheduler: str | None):
    """The cluster the options name (a usage error when both are given)."""
    from forecast.sweeps.engine import Cluster

    if scheduler and workers:
        raise click.UsageError("--workers starts a local cluster; with --scheduler the cluster's own workers run")
    if scheduler:
        from forecast.sweeps.engine import scheduler_problem

        problem = scheduler_problem(scheduler)
        if problem:
            raise click.UsageError(problem)
    if workers is None:
        workers = 0 if scheduler else (os.cpu_count() or 1)
    return Cluster(workers=workers, scheduler=scheduler)


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


class Place(click.Path):
    """A path given on the command line: never empty (``Path("")`` is the working directory,
    so ``--out ''`` was taken for it)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path; give a file or folder name", param, ctx)
        return super().convert(value, param, ctx)


#: Every path a command reads or writes. click checks nothing of it but that it is given (no
#: "exists", "is a directory" or "is not readable" usage error, exit 2, with no fix): the
#: loaders check each path as they read it and say what is wrong and what to do, with the
#: README's exit code (1).
PATH = Place(path_type=Path, readable=False)


@click.group(epilog=EPILOG)
@click.version_option(package_name="forecast")
def cli() -> None:
    """Bayesian scenario forecasting from causal claims.

    A scenario file (TOML, see priors/README.md) declares the factors of an argument, the
    causal claims between them with priors and the quotes they rest on, indicator data that
    measure them, strategies (interventions on policy levers) and the questions analysts
    ask. `forecast run` samples the posterior once with PyMC, forecasts every strategy from
    it, and writes a run directory with ArviZ-readable results and an HTML report.
    """


@cli.command(epilog=epilog(0, 1, 2, what={1: "the scenario file cannot be used (every problem is listed)"}))
@click.argument("scenario", type=PATH)
def validate(scenario: Path) -> None:
    """Check SCENARIO and print what it declares.

    Resolves every prior (quantile statements are solved to a distribution with PreliZ and
    shown back), loads each indicator's data and checks every cross-reference. Exits 1 with
    all problems listed when the file cannot be used.
    """
    from forecast.describe import describe_scenario
    from forecast.scenario import ScenarioError, load_scenario

    try:
        s = load_scenario(scenario)
    except ScenarioError as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    click.echo(describe_scenario(s))
    for warning in s.warnings():
        _echo_err(f"warning: {warning}")


@cli.command(epilog=EPILOG)
@click.argument("scenario", type=PATH)
@click.option("--strategy", "strategies", multiple=True, metavar="NAME",
              help="Forecast only this strategy (repeatable); the baseline is always kept.")
@sampler_options
@click.option("--out", type=PATH, default=None,
              help="Run directory to create [default: reports/<scenario>-<UTC time>]. Never overwritten.")
@click.option("--keep-draws", type=Whole(1), default=None,
              help="Store only this many evenly spaced forecast draws (summaries still use all).")
@click.option("--no-report", is_flag=True, help="Do not render the HTML report.")
@click.option("--strict", is_flag=True, help="Exit 3 when sampling diagnostics are not clean.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def run(scenario: Path, strategies: tuple[str, ...], draws: int, tune: int, chains: int, seed: int | None,
        sampler: str, target_accept: float, out: Path | None, keep_draws: int | None,
        no_report: bool, strict: bool, quiet: bool) -> None:
    """Sample SCENARIO's posterior, forecast its strategies, write a run directory.

    Prints a table of each question's probability under each strategy (with its Monte
    Carlo standard error), the diagnostics verdict, and the path of the report.
    """
    from forecast.compiled import runtime

    runtime.start_background_compile()  # first, so that it overlaps the imports below too
    from forecast.errors import SamplerWarning
    from forecast.pipeline import run_scenario
    from forecast.progress import StageProgress
    from forecast.results.store import RunError
    from forecast.scenario import ScenarioError
    from forecast.scenario.load import UnknownStrategy

    interactive = sys.stderr.isatty() and not quiet
    progress = None if quiet else StageProgress(lambda msg: _echo_err(f"[forecast] {msg}"), live=interactive)
    try:
        settings = SamplerSettings(draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler,
                                   target_accept=target_accept, progress=interactive)
        with warnings.catch_warnings():  # the verdict is printed below, with its numbers
            warnings.simplefilter("ignore", SamplerWarning)
            result = run_scenario(scenario, settings, strategies=list(strategies) or None, out=out,
                                  keep_draws=keep_draws, report=not no_report, command=["forecast", *sys.argv[1:]],
                                  progress=progress, warn=lambda warning: _echo_err(f"warning: {warning}"))
    except UnknownStrategy as exc:  # an option's value: a usage error
        raise click.BadParameter(f"{', '.join(map(repr, exc.unknown))}: {scenario} has no such strategy; give one of "
                                 f"{', '.join(exc.known)}", param_hint="--strategy") from None
    except (ScenarioError, RunError) as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    except RuntimeError as exc:
        _refuse_sampler_failure(exc, scenario)
    from forecast.describe import results_table

    click.echo(results_table(result.summary))
    click.echo(f"\nresults: {result.path}")
    if not no_report:
        click.echo(f"report:  {result.path / 'report' / 'index.html'}")
    if strict and result.summary["diagnostics"]["verdict"] != "ok":
        _echo_err("error: --strict: sampling diagnostics are not clean (see above)")
        sys.exit(EXIT_DIAGNOSTICS)


def _refuse_sampler_failure(exc: RuntimeError, scenario: Path) -> None:
    """Exit 1 with the cause when the sampler could not start; any other error goes on. After
    a signal, the failure is the signal's doing (its raise in the log density's callback fails
    the start): the command stops as the signal asks."""
    from forecast import interrupts
    from forecast.posterior.sampling import could_not_start

    stop = interrupts.interrupted_by(exc)
    if stop is not None:
        raise stop from None
    said = could_not_start(exc)
    if said is None:
        raise exc
    _echo_err(f"error: {scenario}: {said}")
    sys.exit(EXIT_BAD_INPUT)


#: Origins a backtest fits at most: each is one fit (a range of a billion years was built whole).
MAX_ORIGINS = 100


def parse_origins(text: str | None) -> list[int] | None:
    """``2016:2023`` (both included) or ``2016,2019,2022``; None for the default. Years are
    written in ASCII digits, 1 to 9999 (``int`` would take "２０２０" and "2_020")."""
    if text is None:
        return None

    def year(part: str) -> int:
        if not re.fullmatch(r"[0-9]{1,4}", part.strip()) or int(part) < 1:
            raise ValueError
        return int(part)

    try:
        if ":" in text:
            first, last = (year(p) for p in text.split(":"))
            if last < first:
                raise ValueError
            years = range(first, last + 1)
        else:
            years = [year(p) for p in text.split(",")]
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise click.BadParameter(f"{shown!r}: give FIRST:LAST (e.g. 2016:2023) or years separated by commas "
                                 "(e.g. 2016,2019,2022), years from 1 to 9999", param_hint="--origins") from None
    if len(years) > MAX_ORIGINS:
        raise click.BadParameter(f"{len(years)} origins are more than the limit of {MAX_ORIGINS}: each origin is one "
                                 "fit; give fewer", param_hint="--origins")
    return list(years)


@cli.command(epilog=epilog(0, 1, 2, what={1: "bad scenario or data file, origins the data cannot score, a sampler "
                                             "that cannot start, or an output that cannot be written (nothing "
                                             "written)"}))
@click.argument("scenario", type=PATH)
@click.option("--origins", default=None, metavar="FIRST:LAST",
              help="Origin years (FIRST:LAST, or YEAR,YEAR,...) [default: the eight years before the last year "
                   "with data, each with four years of history before it].")
@click.option("--horizon", default=3, show_default=True, type=Whole(1, 50),
              help="Years ahead forecast from each origin.")
@sampler_options
@click.option("--out", type=PATH, default=None,
              help="Backtest directory to create [default: reports/<scenario>-backtest-<UTC time>].")
@click.option("--no-report", is_flag=True, help="Do not render the HTML page.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def backtest(scenario: Path, origins: str | None, horizon: int, draws: int, tune: int, chains: int,
             seed: int | None, sampler: str, target_accept: float, out: Path | None, no_report: bool,
             quiet: bool) -> None:
    """Rolling-origin hindcasts of SCENARIO's indicators, scored against what happened.

    For each origin year the model is fitted on the data before it only (no intervention)
    and forecasts every indicator 1 to HORIZON years ahead. Prints the coverage of the 50%,
    80% and 90% intervals and the CRPS skill against three naive forecasts (random walks);
    writes backtest.nc, backtest.json and report/index.html. A later `forecast run` of the
    scenario in the same reports folder shows the result in its report.
    """
    from forecast.compiled import runtime

    runtime.start_background_compile()
    years = parse_origins(origins)
    from forecast.backtest.hindcast import OriginsError
    from forecast.describe import backtest_table
    from forecast.pipeline import run_backtest
    from forecast.progress import StageProgress
    from forecast.results.store import RunError
    from forecast.scenario import ScenarioError

    interactive = sys.stderr.isatty() and not quiet
    progress = None if quiet else StageProgress(lambda msg: _echo_err(f"[forecast] {msg}"), live=interactive)
    try:
        settings = SamplerSettings(draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler,
                                   target_accept=target_accept, progress=False)
        result = run_backtest(scenario, settings, origins=years, horizon=horizon, out=out, report=not no_report,
                              command=["forecast", *sys.argv[1:]], progress=progress)
    except OriginsError as exc:
        raise click.UsageError(str(exc)) from None
    except (ScenarioError, RunError) as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    except RuntimeError as exc:
        _refuse_sampler_failure(exc, scenario)
    click.echo(backtest_table(result.summary))
    click.echo(f"\nresults: {result.path}")
    if not no_report:
        click.echo(f"report:  {result.path / 'report' / 'index.html'}")


SWEEP_HELP = """Fit SCENARIO under many variants of its priors, weights or strategies.

\b
Variants come from --vary options (their grid, or --sample N random points of it):
  --vary claims.antagonism_pushes_russia_to_china.prior.strength=weak,moderate,strong
  --vary claims.engagement_and_partnership.hypotheses.breaks.weight=0.3,0.5,0.7
  --vary strategies.dual_containment.set.us_engagement=20,30
  --vary scenario=priors/other.toml,priors/mine.toml    (whole alternative files)
or from a sweep file (--sweep SWEEP.toml) of [[variants]] with a name and their changes.
List items are named by their id; values are written as in the scenario file.

Every variant is validated before anything samples; the scenario as written is always
fitted too, as the reference. Runs in local worker processes (--workers, Dask LocalCluster)
or on an existing Dask cluster (--scheduler tcp://HOST:PORT). Writes sweep.nc (dims variant,
question, strategy), variants.csv and report/index.html; rerun with the same --out to
resume an interrupted sweep (finished variants are kept).
"""


def _vary_variants(vary: tuple[str, ...], sample: int | None, seed: int | None) -> list:
    """The variants of the --vary options' grid; a bad option is a usage error (exit 2)."""
    import math

    from forecast.sweeps.variants import SweepError, grid, parse_vary

    try:
        values = parse_vary(list(vary))
        variants = grid(values, sample, seed or 0)
    except SweepError as exc:
        raise click.UsageError(str(exc)) from None
    size = math.prod(len(v) for v in values.values())
    if sample is not None and sample >= size:
        _echo_err(f"note: --sample {sample} is not fewer than the grid's {size} variant"
                  f"{'s' if size != 1 else ''}: the whole grid is fitted")
    return variants


def _sweep_file_variants(path: Path) -> list:
    """The variants of a sweep file. A bad sweep file is a bad input file (exit 1, as a bad
    scenario is; :func:`forecast.sweeps.variants.read_sweep_file` reads it as guardedly)."""
    from forecast.sweeps.variants import SweepError, read_sweep_file

    try:
        return read_sweep_file(path)
    except SweepError as exc:
        _echo_err(f"error: {exc}")
    sys.exit(EXIT_BAD_INPUT)


@cli.command(epilog=epilog(0, 1, 2, what={
    1: "bad scenario, data file or sweep file (named before anything samples), a Dask scheduler that cannot be "
       "reached, an output that cannot be written, or every variant failed (each one's error is recorded)",
    130: "interrupted (Ctrl-C, SIGINT); the finished variants are kept: rerun with the same --out to resume",
    143: "terminated (SIGTERM); the finished variants are kept"}),
             help=SWEEP_HELP)
@click.argument("scenario", type=PATH)
@click.option("--vary", "vary", multiple=True, metavar="KEY=V1,V2", help="A key and its values (repeatable).")
@click.option("--sample", type=Whole(1), default=None,
              help="Fit this many random points of the --vary grid instead of all of it.")
@click.option("--sweep", "sweep_file", type=PATH, default=None,
              help="A sweep file of named [[variants]].")
@cluster_options
@sampler_options
@click.option("--out", type=PATH, default=None,
              help="Sweep directory [default: reports/<scenario>-sweep-<UTC time>]; an existing one is resumed.")
@click.option("--keep-runs", is_flag=True, help="Also write each variant's run directory (runs/NNNN).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def sweep(scenario: Path, vary: tuple[str, ...], sample: int | None, sweep_file: Path | None, workers: int | None,
          scheduler: str | None, draws: int, tune: int, chains: int, seed: int | None, sampler: str,
          target_accept: float, out: Path | None, keep_runs: bool, quiet: bool) -> None:
    from forecast.pipeline import run_sweep
    from forecast.sweeps.engine import ClusterError
    from forecast.sweeps.variants import SweepError

    if vary and sweep_file:
        raise click.UsageError("give --vary options or --sweep FILE, not both")
    if sample is not None and not vary:
        raise click.UsageError("--sample picks points of the --vary grid: give --vary too")
    cluster = cluster_of(workers, scheduler)
    variants = _sweep_file_variants(sweep_file) if sweep_file else _vary_variants(vary, sample, seed)
    settings = SamplerSettings(draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler,
                               target_accept=target_accept, progress=False)
    from forecast.results.store import RunError
    from forecast.scenario import ScenarioError

    try:
        result = run_sweep(scenario, variants, settings, cluster=cluster, out=out, keep_runs=keep_runs,
                           say=None if quiet else (lambda msg: _echo_err(f"[forecast] {msg}")))
    except (SweepError, ScenarioError, RunError, ClusterError) as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    from forecast.describe import sweep_table

    click.echo(sweep_table(result.dataset))
    click.echo(f"\nresults: {result.path}\nreport:  {result.path / 'report' / 'index.html'}")


@cli.command(epilog=epilog(0, 1, 2, what={1: "bad scenario or data file, a Dask scheduler that cannot be reached, "
                                             "every simulation failed, or an output that cannot be written (nothing "
                                             "written)"}))
@click.argument("scenario", type=PATH)
@click.option("--sims", default=200, show_default=True, type=Whole(2, 100_000),
              help="Simulated datasets, each drawn from the prior and fitted.")
@cluster_options
@sampler_options(draws=200, tune=200, chains=2)
@click.option("--out", type=PATH, default=None,
              help="Directory to create [default: reports/<scenario>-calibrate-<UTC time>].")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def calibrate(scenario: Path, sims: int, workers: int | None, scheduler: str | None, draws: int, tune: int,
              chains: int, seed: int | None, sampler: str, target_accept: float, out: Path | None,
              quiet: bool) -> None:
    """Simulation-based calibration of SCENARIO's model.

    Draws every parameter from the prior, simulates the indicators at the scenario's own
    observation years, fits each simulated dataset as a run would (hypotheses weighed), and
    records where each true value falls among the posterior draws. Prints, per parameter, a
    uniformity test of those ranks (Holm-adjusted over the parameters) and flags those that
    are not uniform; writes calibration.json, ranks.nc and report/index.html. Runs on Dask
    like `forecast sweep`. Short fits by default (2 chains x 200 draws): their ranks are thinned
    to 99 near-independent draws.
    """
    from forecast.calibration.sbc import CalibrationError, check_draws
    from forecast.pipeline import run_calibration
    from forecast.results.store import RunError
    from forecast.scenario import ScenarioError
    from forecast.sweeps.engine import ClusterError

    cluster = cluster_of(workers, scheduler)
    settings = SamplerSettings(draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler,
                               target_accept=target_accept, progress=False)
    try:
        check_draws(settings)
    except CalibrationError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        result = run_calibration(scenario, sims, settings, cluster=cluster, out=out,
                                 say=None if quiet else (lambda msg: _echo_err(f"[forecast] {msg}")))
    except (ScenarioError, RunError, ClusterError, CalibrationError) as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    from forecast.describe import calibration_table

    click.echo(calibration_table(result.summary))
    click.echo(f"\nresults: {result.path}\nreport:  {result.path / 'report' / 'index.html'}")


@cli.command(epilog=epilog(0, 1, 2, what={1: "not a run directory, a modified run, or --out is not a report's "
                                             "directory (nothing written)"}))
@click.argument("run_dir", type=PATH)
@click.option("--out", type=PATH, default=None,
              help="Directory for the HTML pages [default: RUN_DIR/report].")
def report(run_dir: Path, out: Path | None) -> None:
    """Render the HTML report of a finished run (no re-sampling).

    Checks the run against its manifest first; writes index.html (the overview) and one page
    per strategy, each self-contained (opens from disk with no network).
    """
    from forecast import interrupts
    from forecast.report import render_report
    from forecast.results.store import RunError, load_run

    try:
        r = load_run(run_dir)
        index = render_report(r, out or run_dir / "report", replace=True)
        interrupts.committed()
    except RunError as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    click.echo(f"report: {index}")


SCORE_HELP = f"""Score RUN_DIR's questions against what happened, from RESOLUTIONS (a CSV).

RESOLUTIONS has the columns question,value,date,source: the question's id, yes/no or the
number observed, the date it was published (YYYY-MM-DD) and where it comes from. Each
resolved question gets its Brier and log scores under the enacted strategy, appended to the
ledger (one JSON line each); then every question in the ledger is shown with its forecasts
over time, and a reliability table once {RELIABILITY_MIN} forecasts are scored. A bad row
exits 1 with its row number, and the ledger is left as it was. The ledger is ledger.jsonl
in the folder that holds RUN_DIR (reports/ledger.jsonl for runs in the default folder), where
`forecast ledger` looks too. See docs/scoring.md.
"""


@cli.command(epilog=epilog(0, 1, 2, what={1: "not a run directory or a modified run, a bad resolutions file, or a "
                                             "ledger that cannot be read or written (the ledger is untouched)"}),
             help=SCORE_HELP)
@click.argument("run_dir", type=PATH)
@click.argument("resolutions", type=PATH)
@click.option("--enacted", metavar="STRATEGY", default=None,
              help="The strategy that was actually enacted [default: the run's baseline].")
@click.option("--ledger", "ledger_file", type=PATH, default=None,
              help="The ledger to append to [default: ledger.jsonl in the folder that holds RUN_DIR].")
def score(run_dir: Path, resolutions: Path, enacted: str | None, ledger_file: Path | None) -> None:
    from forecast.describe import ledger_view, scored_table
    from forecast.results.store import RunError
    from forecast.scoring import ScoringError, score_run

    try:
        scored = score_run(run_dir, resolutions, enacted=enacted, ledger=ledger_file)
    except (RunError, ScoringError) as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    click.echo(scored_table(scored))
    click.echo("")
    click.echo(ledger_view(scored.ledger))


LEDGER_HELP = f"""Show the ledger of scored forecasts at PATH without scoring.

PATH is a ledger file, a folder of runs (its ledger.jsonl) or a run directory (the ledger
`forecast score` writes for it: ledger.jsonl in the folder that holds it) [default: reports,
the folder runs go to by default: reports/ledger.jsonl]. Every question with its forecasts over
time (run, strategy, probability, outcome, Brier and log scores), then the reliability table
once {RELIABILITY_MIN} forecasts are scored.
"""


@cli.command(epilog=epilog(0, 1, 2, what={1: "a ledger that cannot be read"}), help=LEDGER_HELP)
@click.argument("path", metavar="[PATH]", required=False, type=PATH, default=Path("reports"))
def ledger(path: Path) -> None:
    from forecast.describe import ledger_view
    from forecast.scoring import Ledger, ScoringError
    from forecast.scoring.errors import MissingLedger
    from forecast.scoring.ledger import ledger_at, ledgers_in

    found = ledger_at(path)
    try:
        book = Ledger.read(found, missing_ok=False)
    except MissingLedger as exc:
        others = [f for f in ledgers_in() if f.resolve() != found.resolve()]
        hint = (f"; found {', '.join(map(str, others))}: " + ("" if len(others) == 1 else "give one, e.g. ")
                + f"`forecast ledger {others[0].parent}`") if others else ""
        _echo_err(f"error: {exc}{hint}")
        sys.exit(EXIT_BAD_INPUT)
    except ScoringError as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    click.echo(ledger_view(book))


@cli.command(epilog=epilog(0, 1, 2, what={1: "not a run directory, or a modified run"}))
@click.argument("run_dir", type=PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON (as summary.json holds it).")
def sensitivity(run_dir: Path, as_json: bool) -> None:
    """What each answer of RUN_DIR hinges on (no re-sampling).

    For every question: the best strategy (the one most likely to give the question's
    desirable answer) and what would flip it; each claim's influence (the answer with the
    claim's effect at its posterior 5th and 95th percentiles, and its share of the answer's
    variance); the value of knowing each claim's effect for the choice of strategy; the answers
    before any evidence. For each claim: whether the data or the prior drive its posterior.
    """
    import json

    from forecast.describe import sensitivity_view
    from forecast.results.store import RunError, load_run
    from forecast.scenario import ScenarioError
    from forecast.sensitivity.analysis import analyse_sensitivity
    from forecast.sensitivity.diff import run_scenario_of

    try:
        r = load_run(run_dir)
        found = r.summary.get("sensitivity")
        if found is None:  # a run from before the analysis existed
            scenario = run_scenario_of(r)
            seed = r.manifest.get("seed")
            found = analyse_sensitivity(scenario, r.tree, scenario.seed if seed is None else seed)
    except RunError as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    except ScenarioError as exc:
        _echo_err(f"error: {_copy_refused(run_dir, exc)}")
        sys.exit(EXIT_BAD_INPUT)
    click.echo(json.dumps(found, indent=2) if as_json else sensitivity_view(r.summary, found))


@cli.command(epilog=epilog(0, 1, 2, what={1: "not a run directory, or a modified run"}))
@click.argument("run_a", type=PATH)
@click.argument("run_b", type=PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff(run_a: Path, run_b: Path, as_json: bool) -> None:
    """What changed from RUN_A to RUN_B, and what it did to the answers.

    First the questions whose decision changed (best strategy, ties, answer sought), then the
    changes (claims, priors, data, strategies, questions, settings), the answers that moved
    beyond their Monte Carlo error, and for each the changes that explain it (changed claims
    first, most influential first).
    """
    import json

    from forecast.describe import diff_view
    from forecast.results.store import RunError, load_run
    from forecast.scenario import ScenarioError
    from forecast.sensitivity.diff import diff_runs

    try:
        a, b = load_run(run_a), load_run(run_b)
        found = diff_runs(a, b)
    except RunError as exc:
        _echo_err(f"error: {exc}")
        sys.exit(EXIT_BAD_INPUT)
    except ScenarioError as exc:
        _echo_err(f"error: {_copy_refused(exc.file.parent.parent, exc)}")
        sys.exit(EXIT_BAD_INPUT)
    click.echo(json.dumps(found.to_dict(), indent=2, default=str) if as_json else diff_view(found))


def _copy_refused(run_dir: Path, exc: Exception) -> str:
    """A run whose own copy of its scenario is refused now (edited, or written by a version of
    forecast that accepted what this one refuses): what was found, and what to do."""
    return (f"{run_dir}: the run's copy of its scenario cannot be loaded again, so the run cannot be compared or "
            f"analysed; re-run its scenario with this version of forecast. {exc}")


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """A warning as the command line shows it: one line, without the source line it came from."""
    return f"warning: {message}\n"


def main() -> None:
    """The ``forecast`` executable.

    SIGINT and SIGTERM stop a command at any stage (:mod:`forecast.interrupts`): what it was
    writing is removed on the way out, the background compile is stopped, and the exit code
    is 130 or 143. Once the command is done the process exits at once (``os._exit`` after
    flushing), skipping the interpreter's teardown: finalising the compiled model's graphs and
    LLVM objects took ~1.5 s of every run, and there is nothing left to write (a run directory
    is complete and renamed into place before the command returns). Errors that escape a
    command still end in Python's normal traceback exit."""
    from forecast import interrupts

    warnings.formatwarning = _warning_line
    with interrupts.handled():
        try:
            code = _command()
        except interrupts.Interrupted as exc:  # between the command and the line below
            code = exc.exit_code
        interrupts.record_only()  # the command is over: a signal now only sets the exit code
        signum = interrupts.received()
        if signum is not None:
            code = 128 + signum  # even when a library swallowed the raise and the command went on
        elif interrupts.after_commit() is not None:
            import signal

            _echo_err(f"interrupted ({signal.Signals(interrupts.after_commit()).name}) after the output was "
                      "written: it is complete")
        from forecast.compiled import runtime

        runtime.stop_background_compile()  # os._exit skips the atexit hook that would
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _command() -> int:
    """Run the command line's command; its exit code. Once a signal was received, any error
    that escapes the command is the signal's doing (:func:`forecast.interrupts.interrupted_by`):
    the exit code is the signal's, without a traceback."""
    from forecast import interrupts

    try:
        cli(prog_name="forecast")
        return 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message to print: let Python do it
        return exc.code or 0
    except Exception as exc:  # an Interrupted a library wrapped in an error of its own, or an error
        stop = interrupts.interrupted_by(exc)
        if stop is None:
            raise
        return _stopped(stop)
    except interrupts.Interrupted as exc:
        return _stopped(exc)


def _stopped(exc: Interrupted) -> int:
    """Say that the command was stopped by a signal; its exit code. What it was writing has
    been removed on the way out (staging folders, claims, child processes)."""
    import signal

    _echo_err(f"interrupted ({signal.Signals(exc.signum).name}): stopped; nothing half-written is left")
    return exc.exit_code


if __name__ == "__main__":
    main()
