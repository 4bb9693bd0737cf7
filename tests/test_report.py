"""The HTML report: structure, numbers, escaping, self-containment, atomic writing.

Each check parses the pages (stdlib ``html.parser``) rather than comparing snapshots. Two
tiny scenarios are sampled once per module (a few seconds): one with an indicator, a
baseline and competing hypotheses, one with no indicators and no baseline.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from forecast import report
from forecast.cli import cli
from forecast.pipeline import run_scenario
from forecast.report import answers, context, drawing, render
from forecast.report import figures as plots
from forecast.results.store import RunError, load_run
from forecast.sensitivity.analysis import hinges_under
from forecast.settings import SamplerSettings

pytestmark = pytest.mark.slow  # every test here renders a sampled run

SECTIONS = ("summary", "strategies", "headline", "contrasts", "hinges", "trajectories", "graph", "claims", "evidence",
            "diagnostics", "provenance")
#: What a strategy's page shows itself; it links to the overview for the rest.
STRATEGY_SECTIONS = ("headline", "contrasts", "trajectories", "graph", "shared")
SHARED = ("claims", "evidence", "diagnostics", "provenance")
SCRIPT_QUOTE = "Sanctions <script>alert(1)</script> push them together."
ASSET_TAGS = {"link", "script", "img", "iframe", "source", "video", "audio", "embed", "object", "use", "image",
              "track", "input", "frame"}

SCENARIO = """\
schema_version = 1

[scenario]
name = "Tiny scenario for the report tests"
description = "Two strategies, one lever, one outcome."
history_start = 2016
start_year = 2022
horizon = 2024
seed = 7

[nodes.pressure]
label = "Pressure"
role = "lever"

[nodes.trade]
label = "Trade ties"
role = "factor"

[nodes.alliance]
label = "Alliance <b>depth</b>"
role = "outcome"
desirable = "lower"

[[claims]]
id = "pressure_binds"
cause = "pressure"
effect = "alliance"
label = "Pressure <i>binds</i> them"
quote = "Sanctions <script>alert(1)</script> push them together."
prior = { direction = "+", strength = "moderate", confidence = "medium" }

[[claims]]
id = "trade_and_alliance"
cause = "trade"
effect = "alliance"
label = "Trade and the alliance"
quote = "Does trade deepen it?"

  [[claims.hypotheses]]
  id = "deepens"
  label = "Trade deepens it"
  weight = 0.6
  quote = "Trade is the glue."
  prior = { dist = "Normal", mu = 0.3, sigma = 0.1 }

  [[claims.hypotheses]]
  id = "nothing"
  label = "No effect"
  weight = 0.4
  prior = { dist = "Normal", mu = 0.0, sigma = 0.05 }
{indicators}
[[strategies]]
id = "status_quo"
label = "Status quo"
baseline = {baseline}

[[strategies]]
id = "press"
label = "Press hard"
description = "Raise the pressure."
set = {{ pressure = 80 }}

[[questions]]
id = "alliance_down"
text = "Is alliance depth in 2024 below its 2021 level?"
subject = "alliance"
year = 2024
comparison = "below"
reference_year = 2021

[[questions]]
id = "alliance_high"
text = "Is alliance depth above 55 in 2023?"
subject = "alliance"
year = 2023
comparison = "above"
threshold = 55
resolution = "Alliance <b>depth</b> as the 2023 yearbook gives it"
"""

INDICATOR = """
[indicators.trade_volume]
label = "Trade volume"
node = "trade"
file = "trade.csv"
column = "value"
transform = "log"
unit = "USD bn"
source = "Test data"
url = "javascript:alert(1)"
"""

CSV = """\
year,value,source
2016,60,https://example.org/2016
2017,64,https://example.org/2017
2018,70,customs yearbook <script>x</script>
2019,69,https://example.org/2019a ; https://example.org/2019b
2020,75,https://example.org/2020
2021,82,https://example.org/2021
"""


def _run(root: Path, name: str, *, indicators: bool, baseline: bool):
    """Sample a tiny scenario (no report) and return its loaded run."""
    folder = root / name
    folder.mkdir()
    text = SCENARIO.replace("{indicators}", INDICATOR if indicators else "")
    text = text.replace("{baseline}", "true" if baseline else "false").replace("{{", "{").replace("}}", "}")
    (folder / "tiny.toml").write_text(text, encoding="utf-8")
    (folder / "trade.csv").write_text(CSV, encoding="utf-8")
    settings = SamplerSettings(draws=60, tune=60, chains=2, seed=1, progress=False)
    return run_scenario(folder / "tiny.toml", settings, out=folder / "run", report=False,
                        command=["forecast", "run", "tiny.toml"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Two sampled runs: "full" (indicator, baseline) and "bare" (neither)."""
    root = tmp_path_factory.mktemp("report-runs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sampler warnings about tiny draws are expected
        return {"full": _run(root, "full", indicators=True, baseline=True),
                "bare": _run(root, "bare", indicators=False, baseline=False)}


@pytest.fixture(scope="module")
def rendered(runs, tmp_path_factory) -> dict[str, Path]:
    """Each run's report, rendered once: variant -> report directory."""
    root = tmp_path_factory.mktemp("reports")
    return {name: report.render_report(run, root / name).parent for name, run in runs.items()}


class Page(HTMLParser):
    """Tags with their attributes, ids, and the text of a parsed page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}

    def find(self, tag: str, **attrs) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


class Cells(HTMLParser):
    """The text of every headline cell, by (question, strategy)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.cells: dict[tuple[str, str], dict] = {}
        self._current: tuple[str, str] | None = None
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "data-probability" in a:
            self._current = (a["data-question"], a["data-strategy"])
            self.cells[self._current] = {**a, "text": ""}
        elif self._current and tag == "td":
            self._current = None

    def handle_endtag(self, tag):
        if tag == "td":
            self._current = None

    def handle_data(self, data):
        if self._current:
            self.cells[self._current]["text"] += data


def shown(html: str) -> str:
    """A page's text as a browser shows it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def pages(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.html"))}


# --- Structure -----------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["full", "bare"])
def test_every_page_has_its_sections_and_strategy_pages_link_to_the_shared_ones(rendered, runs, variant):
    found = pages(rendered[variant])
    expected = {"index.html"} | {f"strategy-{s['id']}.html" for s in runs[variant].summary["strategies"]}
    assert set(found) == expected
    for name, html in found.items():
        page = Page(html)
        wanted = SECTIONS if name == "index.html" else STRATEGY_SECTIONS
        missing = [s for s in wanted if s not in page.ids]
        assert not missing, f"{name} lacks sections {missing}"
        if name != "index.html":  # the shared sections are not repeated, but linked
            assert not {"claims", "evidence", "diagnostics", "provenance"} & page.ids, name
            hrefs = {a.get("href") for t, a in page.tags if t == "a"}
            assert {f"index.html#{x}" for x in SHARED} <= hrefs, name
            assert not any(i.startswith(("claim-", "indicator-")) for i in page.ids), name
            assert '<pre class="scenario-file">' not in html, name


def test_the_downloads_are_written_and_linked(rendered, runs):
    directory, run = rendered["full"], runs["full"]
    assert (directory / "summary.json").read_bytes() == (run.path / "summary.json").read_bytes()
    rows = (directory / "answers.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(run.summary["questions"]) * len(run.summary["strategies"])
    hrefs = [a.get("href") for t, a in Page((directory / "index.html").read_text(encoding="utf-8")).tags if t == "a"]
    assert "answers.csv" in hrefs and "summary.json" in hrefs


def test_the_summary_names_the_best_strategy_and_how_likely_in_words(rendered, runs):
    summary = runs["full"].summary
    page = Page((rendered["full"] / "index.html").read_text(encoding="utf-8"))
    text = " ".join(" ".join(page.text).split())
    for q in summary["questions"]:
        want = "yes" if q["comparison"] == "below" else "no"  # alliance depth: lower is better
        p = {sid: r["probability"] if want == "yes" else 1 - r["probability"] for sid, r in q["by_strategy"].items()}
        best = max(p, key=p.get)
        cells = [a for a in page.find("td") if a.get("data-label", "").startswith("How likely")]
        assert any(float(a["data-chance"]) == p[best] for a in cells)
        assert f"{answers.likelihood(p[best])} ({p[best]:.2f})" in text
    assert "Monte Carlo error" in text and "likely 66\u2013100%" in text  # the scale, documented beside it
    assert "\u00b1" not in text  # no bare "±" that reads as the answer's uncertainty

@pytest.mark.parametrize("variant", ["full", "bare"])
def test_headline_numbers_are_the_summary_numbers(rendered, runs, variant):
    summary = runs[variant].summary
    html = (rendered[variant] / "index.html").read_text(encoding="utf-8")
    cells = Cells(html).cells
    expected = {(q["id"], sid): r for q in summary["questions"] for sid, r in q["by_strategy"].items()}
    assert set(cells) == set(expected)
    for key, r in expected.items():
        cell = cells[key]
        assert float(cell["data-probability"]) == r["probability"]
        assert float(cell["data-mcse"]) == r["mcse"]
        shown = " ".join(cell["text"].split())
        p, m = f"{r['probability']:.2f}", f"{r['mcse']:.3f}"
        prior = summary["sensitivity"]["questions"][key[0]]["prior_only"][key[1]]
        beside = f" (prior only {prior:.2f})" if summary["indicators"] else ""  # no data: the posterior is the prior
        assert shown == f"{p}{beside} {answers.likelihood(r['probability'])} Monte Carlo error {m}", shown


def test_readings_name_the_strategy_and_the_baseline(rendered, runs):
    summary = runs["full"].summary
    html = (rendered["full"] / "strategy-press.html").read_text(encoding="utf-8")
    q = summary["questions"][0]
    p, base = q["by_strategy"]["press"]["probability"], q["by_strategy"]["status_quo"]["probability"]
    sentence = (f"Under Press hard, that Alliance &lt;b&gt;depth&lt;/b&gt; in 2024 will be below the 2021 level is "
                f"{answers.likelihood(p)} ({p:.2f}), Monte Carlo error")
    assert sentence in html
    assert f"(baseline Status quo: {base:.2f})" in html


def test_the_overview_lists_each_strategy_with_what_it_sets_beside_the_levers_last_level(rendered, runs):
    """No indicator measures the lever: its last level is no number but the spread the prior
    leaves, said to be unmeasured, on the overview and on the strategy's page."""
    html = (rendered["full"] / "index.html").read_text(encoding="utf-8")
    listed = re.search(r'<ul class="strategies">(.*?)</ul>', html, re.S)[1]
    text = " ".join(re.sub(r"<[^>]+>", "", listed).split())  # as a browser shows it
    summary = runs["full"].summary
    assert "pressure" not in {ind["node"] for ind in summary["indicators"].values()}
    stats = summary["trajectories"]["pressure"]["by_strategy"]["status_quo"]
    i = summary["trajectories"]["pressure"]["years"].index(2021)
    spread = f"an unmeasured {stats['median'][i]:.0f} [{stats['q05'][i]:.0f}, {stats['q95'][i]:.0f}]"
    assert f"Press hard: Raise the pressure. (sets Pressure to 80, which was {spread} in 2021)" in text
    page = (rendered["full"] / "strategy-press.html").read_text(encoding="utf-8")
    assert f"<td>{spread}</td>" in page  # the strategy's page: the setting beside that level


def test_a_strategy_that_leaves_a_lever_free_says_where_its_own_course_takes_it_and_why(rendered, runs):
    html = (rendered["full"] / "index.html").read_text(encoding="utf-8")
    text = " ".join(re.sub(r"<[^>]+>", "", re.search(r'<ul class="strategies">(.*?)</ul>', html, re.S)[1]).split())
    traj = runs["full"].summary["trajectories"]["pressure"]
    end = traj["by_strategy"]["status_quo"]["median"][-1]
    assert "Leaves Pressure to its own course" in text and f"{end:.0f}" in text
    assert "follows its own equation, as in its history" in text
    assert text.count("Leaves Pressure") == 1, "the strategy that sets it says so instead"
    page = " ".join(Page((rendered["full"] / "strategy-press.html").read_text(encoding="utf-8")).text)
    assert "Under Status quo by" in page and f"{end:.0f} [" in page  # beside the setting: where the baseline takes it


def test_scales_and_unmeasured_nodes_are_explained_where_they_are_used(rendered):
    index = " ".join(Page((rendered["full"] / "index.html").read_text(encoding="utf-8")).text)
    page = " ".join(Page((rendered["full"] / "strategy-press.html").read_text(encoding="utf-8")).text)
    for text in (index, page):
        assert "50 is the node's reference level" in text
        assert "a step of 10 points is 0.41 standard units" in " ".join(text.split())
    # no indicator measures the pressure or the alliance: marked, their history inferred through claims only
    assert "Pressure (no indicator: its history is inferred only through its claims)" in page
    assert "Alliance <b>depth</b> (no indicator: its history is inferred only through its claims)" in page
    assert "Trade ties (no data" not in page


def test_each_prior_is_shown_as_the_analyst_stated_it(rendered):
    text = shown((rendered["full"] / "index.html").read_text(encoding="utf-8"))
    assert "Prior as stated: raises it: moderate strength, medium confidence; fitted: Normal(mu=0.3, sigma=0.3)" in text
    assert "Normal(mu=0.3, sigma=0.1)" in text  # a hypothesis stated as a distribution shows it once


def test_contrasts_show_the_final_year_and_p_better(rendered, runs):
    c = runs["full"].summary["contrasts"]["alliance"]["by_strategy"]["press"]
    page = Page((rendered["full"] / "index.html").read_text(encoding="utf-8"))
    cells = [a for a in page.find("td") if "data-p-better" in a]
    assert [float(a["data-p-better"]) for a in cells] == [c["p_better"][-1]]


def test_no_evidence_and_no_baseline_are_said_plainly(rendered):
    html = (rendered["bare"] / "index.html").read_text(encoding="utf-8")
    assert "declares no indicators" in html
    assert "posterior equals its prior" in html
    assert "nothing to contrast" in html


def test_hypotheses_show_prior_and_posterior_weights(rendered, runs):
    hyps = runs["full"].summary["claims"]["trade_and_alliance"]["hypotheses"]
    html = (rendered["full"] / "index.html").read_text(encoding="utf-8")
    for hid, h in hyps.items():
        assert f'data-hypothesis="{hid}"' in html
        assert f"{h['posterior_weight']:.2f} <span class=\"mcse\">Monte Carlo error {h['posterior_weight_mcse']:.3f}</span>" in html


def test_diagnostics_badge_has_a_word_not_only_a_colour(rendered, runs):
    d = runs["full"].summary["diagnostics"]
    page = Page((rendered["full"] / "index.html").read_text(encoding="utf-8"))
    badges = [a for t, a in page.tags if "badge" in a.get("class", "").split()]
    assert badges and all(f"badge-{d['verdict']}" in a["class"] for a in badges)
    assert context.VERDICTS[d["verdict"]][0] in "".join(page.text)


def test_diagnostics_give_the_leapfrog_steps_per_iteration(rendered, runs):
    d = runs["full"].summary["diagnostics"]
    iterations = d["fits"] * d["chains"] * (d["draws"] + d["tune"])  # one fit per combination of hypotheses
    assert d["leapfrog_steps"] >= iterations, "every iteration, tuning included, takes a step"
    text = " ".join(Page((rendered["full"] / "index.html").read_text(encoding="utf-8")).text)
    assert f"{d['leapfrog_steps']:,} ({d['leapfrog_steps'] / iterations:.1f} per iteration)" in text
    older = {k: v for k, v in d.items() if k != "leapfrog_steps"}  # a run from before the count
    assert dict(context.diagnostics_context(older)["rows"])["Leapfrog steps, tuning included (one gradient each)"] == "n/a"


def test_provenance_shows_the_scenario_file_seed_versions_code_and_output_hashes(rendered, runs):
    run = runs["full"]
    html = (rendered["full"] / "index.html").read_text(encoding="utf-8")
    assert "[indicators.trade_volume]" in html  # the scenario file, escaped into a <pre>
    assert f"<td>{run.manifest['seed']}</td>" in html
    assert run.manifest["versions"]["pymc"] in html
    assert "forecast run tiny.toml" in html
    code = run.manifest["code"]
    assert f"forecast {code['version']}" in html
    if code["commit"]:
        assert f"git commit {code['commit']}" in html
    for name in ("results.nc", "summary.json"):
        assert run.manifest["files"][name] in html


# --- Safety and self-containment -------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["full", "bare"])
def test_scenario_text_is_escaped_everywhere(rendered, variant):
    for name, html in pages(rendered[variant]).items():
        assert "<script" not in html.lower(), name
        assert "<b>depth</b>" not in html and "<i>binds</i>" not in html, name  # labels, also inside SVG
        assert "Alliance &lt;b&gt;depth&lt;/b&gt;" in html, name
    index = (rendered[variant] / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index  # the quote, as text


def test_only_http_urls_become_links_one_link_per_url(rendered):
    for name, html in pages(rendered["full"]).items():
        hrefs = [a.get("href", "") for _, a in Page(html).tags]
        assert not any(h.strip().lower().startswith("javascript:") for h in hrefs), name
    hrefs = [a.get("href", "") for _, a in Page((rendered["full"] / "index.html").read_text(encoding="utf-8")).tags]
    assert "https://example.org/2016" in hrefs  # data sources stay clickable
    # a cell with two sources joined by " ; " is two links, not one broken one
    assert "https://example.org/2019a" in hrefs and "https://example.org/2019b" in hrefs
    assert not any(";" in h for h in hrefs)


@pytest.mark.parametrize("variant", ["full", "bare"])
def test_no_external_assets(rendered, variant):
    for name, html in pages(rendered[variant]).items():
        for tag, attrs in Page(html).tags:
            assert tag != "script", f"{name} has a script"
            if tag not in ASSET_TAGS:
                continue
            for key in ("src", "href", "xlink:href", "data", "srcset", "poster"):
                value = attrs.get(key, "").strip().lower()
                assert not value.startswith(("http:", "https:", "//")), f"{name}: <{tag} {key}={value!r}>"
        assert "@import" not in html and "url(http" not in html, name


@pytest.mark.parametrize("variant", ["full", "bare"])
def test_links_between_pages_resolve(rendered, variant):
    directory = rendered[variant]
    found = pages(directory)
    ids = {name: Page(html).ids for name, html in found.items()}
    for name, html in found.items():
        for tag, attrs in Page(html).tags:
            if tag != "a" or "href" not in attrs:
                continue
            parts = urlsplit(attrs["href"])
            if parts.scheme in ("http", "https"):
                continue
            assert not parts.scheme, f"{name}: unexpected link {attrs['href']}"
            target = parts.path or name
            assert (directory / target).is_file(), f"{name}: broken link {attrs['href']}"
            if parts.fragment:
                assert parts.fragment in ids[target], f"{name}: no #{parts.fragment} in {target}"


def test_report_is_small(rendered):
    for directory in rendered.values():
        total = sum(p.stat().st_size for p in directory.iterdir())
        assert total < 5_000_000


def test_svg_ids_do_not_collide_within_a_page(rendered):
    for name, html in pages(rendered["full"]).items():
        ids = [a["id"] for _, a in Page(html).tags if "id" in a]
        assert len(ids) == len(set(ids)), name


# --- Writing ----------------------------------------------------------------------------------------


def test_a_strategy_page_with_many_nodes_draws_those_that_matter_and_names_the_rest(runs, tmp_path, monkeypatch):
    """Over MAX_PANELS nodes, a strategy page draws its levers, the questions' subjects and the
    outcomes first, and lists the nodes it leaves out; under it, every node."""
    s = runs["full"].summary
    assert context.panel_nodes(s, "press", "status_quo") == (["pressure", "trade", "alliance"], [])
    monkeypatch.setattr(context, "MAX_PANELS", 2)
    assert context.panel_nodes(s, "press", "status_quo") == (["pressure", "alliance"], ["trade"])
    out = report.render_report(runs["full"], tmp_path / "r").parent
    page = Page((out / "strategy-press.html").read_text(encoding="utf-8"))
    assert "Not drawn here (1 of 3 nodes): Trade ties." in " ".join(page.text)


def test_render_twice_needs_replace(runs, tmp_path):
    out = tmp_path / "report"
    index = report.render_report(runs["full"], out)
    assert index == out / "index.html" and index.is_file()
    with pytest.raises(RunError, match="already exists"):
        report.render_report(runs["full"], out)
    (out / "strategy-gone.html").write_text("old", encoding="utf-8")  # a strategy the scenario has dropped
    report.render_report(runs["full"], out, replace=True)
    assert not (out / "strategy-gone.html").exists()  # the old report was swapped out whole
    assert (out / "strategy-press.html").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary directories left


def test_replace_refuses_a_report_folder_that_holds_a_file_of_the_user_s(runs, tmp_path):
    """Notes put beside a report would go with the old report: they are named, and kept."""
    out = tmp_path / "report"
    report.render_report(runs["full"], out)
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(RunError, match="holds notes.txt, which forecast report did not write; replacing the report "
                                       "would delete it: move it out, or give another --out"):
        report.render_report(runs["full"], out, replace=True)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me" and (out / "index.html").is_file()


def test_a_report_is_not_written_into_another_run_s_folder(runs, tmp_path):
    """A tester's `forecast report RUN_A --out RUN_B/report` replaced B's report with A's, and
    nothing told them apart."""
    other = tmp_path / "b"
    other.mkdir()
    (other / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(RunError, match=r"b/report is inside the run directory .*b, not this run's .*: its report "
                                       r"would stand beside another run's results; choose another --out"):
        report.render_report(runs["full"], other / "report", replace=True)
    assert list(other.iterdir()) == [other / "manifest.json"]


def test_replace_refuses_a_directory_that_is_not_a_report(runs, tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(RunError, match="not a report"):
        report.render_report(runs["full"], precious, replace=True)
    assert (precious / "thesis.txt").read_text(encoding="utf-8") == "keep me"


def test_a_failed_figure_shows_a_placeholder_and_warns(runs, tmp_path, monkeypatch):
    def broken(**kwargs):
        raise ValueError("no ink")

    monkeypatch.setattr(plots, "claims_chart", broken)
    with pytest.warns(RuntimeWarning, match="could not be drawn"):
        report.render_report(runs["full"], tmp_path / "report")
    html = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "This figure could not be drawn" in html and "ValueError: no ink" in html


def test_figures_drawn_in_worker_processes_equal_those_drawn_in_order(runs, monkeypatch):
    """Parallel drawing is an optimisation only: the pages come out byte for byte the same."""
    parallel = render.render_pages(runs["full"])
    monkeypatch.setattr(drawing, "MAX_WORKERS", 1)
    assert render.render_pages(runs["full"]) == parallel


def test_cli_report_renders_into_the_run(runs):
    run_dir = runs["bare"].path
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report" / "index.html").is_file()
    again = CliRunner().invoke(cli, ["report", str(run_dir)])  # re-rendering replaces it
    assert again.exit_code == 0, again.output
    load_run(run_dir)  # the run still verifies against its manifest


def test_cli_report_into_a_foreign_directory_exits_1(runs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("x", encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(runs["bare"].path), "--out", str(other)])
    assert result.exit_code == 1
    assert "not a report" in result.output


def test_summary_is_the_only_source_of_numbers(runs, rendered):
    """The report never reads the draws: rendering from summary.json alone gives the same pages."""
    run = runs["full"]
    again = render.render_pages(type(run)(path=run.path, tree=None, summary=json.loads(
        (run.path / "summary.json").read_text(encoding="utf-8")), manifest=run.manifest))
    assert again == pages(rendered["full"])


# --- Forecast quality ------------------------------------------------------------------------------


def _backtest_json(folder: Path, name: str, created: str, held: float) -> None:
    """A backtest's summary as `forecast backtest` writes it (only the keys the panel reads)."""
    curve = {"nominal": [0.1 * k for k in range(1, 10)], "empirical": [0.1 * k for k in range(1, 10)]}
    folder.mkdir(parents=True)
    (folder / "backtest.json").write_text(json.dumps({
        "scenario": {"name": name, "inputs": {}}, "created": created, "points": 40, "origins": [2016, 2017],
        "horizon": 3, "coverage": {"model": {"50": 0.5, "80": 0.8, "90": held}},
        "skill": {"skill": 0.12, "best_baseline": "rw_t"}, "reliability": {"model": curve}}))


def test_without_a_backtest_the_overview_says_how_to_make_one(rendered):
    text = shown(pages(rendered["full"])["index.html"])
    assert "How good are these forecasts? Not backtested yet: run forecast backtest" in text
    bare = shown(pages(rendered["bare"])["index.html"])
    assert "no indicator data, so its forecasts cannot be checked" in bare


def test_the_overview_shows_the_newest_backtest_of_its_own_scenario_beside_the_run(runs, tmp_path):
    run = runs["full"]
    beside = run.path.parent
    _backtest_json(beside / "bt-old", run.summary["scenario"]["name"], "2026-01-01T00:00:00+00:00", 0.70)
    _backtest_json(beside / "bt-new", run.summary["scenario"]["name"], "2026-06-01T00:00:00+00:00", 0.88)
    _backtest_json(beside / "bt-other", "another scenario", "2026-12-01T00:00:00+00:00", 0.10)
    try:
        page = report.render_report(run, tmp_path / "r").read_text(encoding="utf-8")
    finally:
        for f in ("bt-old", "bt-new", "bt-other"):
            shutil.rmtree(beside / f)
    text = shown(page)
    href = re.search(r'From the backtest <a href="([^"]+)"', page).group(1)  # from the report's own folder
    assert (tmp_path / "r" / href).resolve() == (beside / "bt-new" / "report" / "index.html").resolve()
    assert "the 90% intervals held 88% of what happened" in text and "skill +0.12" in text
    assert "held 70%" not in text and "held 10%" not in text
    assert "ran on other versions of this scenario's files" in text  # its inputs' hashes differ


def test_the_backtest_panel_says_what_the_pooled_numbers_hide():
    """Coverage per horizon, and origins whose fits did not pass their diagnostics."""
    from forecast.report.backtest import quality_notes

    notes = quality_notes({
        "by_horizon": {"1": {"coverage": {"90": 0.75}}, "2": {"coverage": {"90": 0.9}}},
        "fits": {"2016": {"verdict": "fail"}, "2017": {"verdict": "warn"}, "2018": {"verdict": "ok"}}})
    assert notes == [
        "By horizon, the 90% intervals held 75% 1 year ahead, 90% 2 years ahead.",
        "The fits of 1 of 3 origins failed on their diagnostics (2016): their scores are not to be trusted; the "
        "backtest's page says why.",
        "The fits of 1 of 3 origins warned on their diagnostics (2017): their scores are less precise; the "
        "backtest's page says why."]
    assert quality_notes({"by_horizon": {"1": {"coverage": {"90": 0.8}}}, "fits": {"2016": {"verdict": "ok"}}}) == []


def test_the_evidence_fit_shows_one_step_ahead_predictions(runs, rendered):
    ind = runs["full"].summary["indicators"]["trade_volume"]
    ahead = ind["one_step"]
    assert ahead["years"] == ind["observed"]["years"][1:]  # a series' first has nothing earlier to go on
    assert all(lo <= mid <= hi for lo, mid, hi in zip(ahead["q05"], ahead["q50"], ahead["q95"]))
    inside = sum(lo <= v <= hi for lo, v, hi in zip(ahead["q05"], ind["observed"]["values"][1:], ahead["q95"]))
    assert ahead["inside_90"] == inside and ahead["observations"] == len(ahead["years"])
    text = shown(pages(rendered["full"])["index.html"])
    assert (f"One year ahead, in-sample: {inside} of {len(ahead['years'])} observations after the series' first "
            "fell inside the 90% interval predicted from the years before them") in text
    assert "so this is no test of the forecasts: the backtest is" in text


# --- What each answer hinges on --------------------------------------------------------------------


def section(html: str, sid: str) -> str:
    """The markup of one ``<section id=...>`` of a page."""
    return re.search(rf'<section id="{sid}">(.*?)</section>', html, re.S)[1]


def hinged_summary(flip: dict | None) -> dict:
    """A summary written by hand with a sensitivity section: one question, two strategies, two
    claims (the second's label is markup), the first claim flipping the choice when ``flip`` is given."""
    def claim(at_a, at_b, flip_=None):
        return {"on_path": True, "tornado": {"a": at_a, "b": at_b}, "variance_share": {"a": 0.2, "b": 0.1},
                "evppi": 0.012, "flip": flip_}

    return {
        "questions": [{"id": "q1", "text": "Is it up?"}],
        "claims": {"c1": {"label": "First claim", "posterior": {"median": 0.25}},
                   "c2": {"label": "Second <b>claim</b>", "posterior": {"median": -0.5}}},
        "indicators": {"i": {}},
        "sensitivity": {
            "questions": {"q1": {
                "posterior": {"a": 0.6, "b": 0.4}, "prior_only": {"a": 0.5, "b": 0.45},
                "decision": {"desirable": "yes", "best": "a", "utilities": {"a": 0.6, "b": 0.4}},
                "ranking": ["c1", "c2"],
                "claims": {"c1": claim([0.7, 0.45], [0.5, 0.3], flip), "c2": claim([0.55, 0.65], [0.4, 0.4])}}},
            "claims": {"c1": {"contraction": 0.3, "prior_sensitivity": 0.01, "driven_by": "data"},
                       "c2": {"contraction": -0.1, "prior_sensitivity": 0.2, "driven_by": "prior"}},
            "worth_researching": [{"claim": "c1", "question": "q1", "evppi": 0.012},
                                  {"claim": "c2", "question": "q1", "evppi": 0.012}],
            "settings": {"tornado_quantiles": [0.05, 0.95]}}}


HAND_STRATEGIES = [{"id": "a", "label": "Act", "href": "strategy-a.html", "index": 0},
                   {"id": "b", "label": "Bide", "href": "strategy-b.html", "index": 1}]


def hinges_html(h: dict) -> str:
    return render.environment().from_string('{% import "macros.html" as m %}{{ m.hinges(h) }}').render(h=h)


@pytest.mark.parametrize("variant", ["full", "bare"])
def test_the_overview_says_what_each_answer_hinges_on(rendered, runs, variant):
    """A card per question with its tornado and a sentence, the flip table, the value of
    information and the answers under each hypothesis; the claims' labels escaped."""
    s = runs[variant].summary
    html = (rendered[variant] / "index.html").read_text(encoding="utf-8")
    assert html.index('<section id="contrasts">') < html.index('<section id="hinges">') < html.index(
        '<section id="trajectories">')
    part = section(html, "hinges")
    ids = Page(part).ids
    for q in s["questions"]:
        entry = s["sensitivity"]["questions"][q["id"]]
        assert {f"hinge-{q['id']}", f"fig-tornado-{q['id']}"} <= ids
        best = entry["decision"]["best"]
        top = hinges_under(entry, best)[0]  # the chart's first bar: its own strategy's ranking
        lo, hi = entry["claims"][top]["tornado"][best]
        error = max(entry["claims"][top]["tornado_mcse"][best])
        label = s["claims"][top]["label"]
        if entry["claims"][top]["tornado_clear"][best]:
            assert (f"The answer hinges most on \u201c{label}\u201d: from {lo:.2f} to {hi:.2f} (Monte Carlo error about "
                    f"{error:.3f} each) as its effect goes from its 5th to its 95th percentile.") in shown(part)
        else:  # the swing is the regression's noise as much as the claim's influence
            assert (f"No claim moves this answer beyond Monte Carlo error: the widest swing (\u201c{label}\u201d: from "
                    f"{lo:.2f} to {hi:.2f} (Monte Carlo error about {error:.3f} each)) is within it.") in shown(part)
    for table in ("flips", "by-hypothesis"):
        assert f'<table class="compact {table}">' in part
    if s["sensitivity"]["worth_researching"]:  # values above their noise level: ranked
        assert '<table class="compact worth">' in part
    else:
        assert "no value of information is above its noise level" in part
    assert "Pressure &lt;i&gt;binds&lt;/i&gt; them" in part and "<i>binds</i>" not in part  # label escaped, SVG too
    worth = [a for a in Page(part).find("tr") if "data-evppi" in a]
    assert [(a["data-claim"], a["data-question"], float(a["data-evppi"])) for a in worth] == [
        (w["claim"], w["question"], w["evppi"]) for w in s["sensitivity"]["worth_researching"]]


def test_the_tornado_bars_are_the_summary_s_tornado_numbers(runs, monkeypatch):
    """Each bar spans the best strategy's answer with the claim's effect at its 5th and its 95th
    percentile, claims in the summary's ranking, the line at the posterior answer."""
    drawn = {}
    monkeypatch.setattr(plots, "tornado_chart", lambda salt, **kw: drawn.setdefault(salt, kw) and "<svg></svg>")
    s = runs["full"].summary
    h = context.hinges_context(s, context.strategy_list(s))
    for q in h["questions"]:
        entry = s["sensitivity"]["questions"][q["id"]]
        best = entry["decision"]["best"]
        expected = [(c, *entry["claims"][c]["tornado"][best]) for c in entry["ranking"]]
        assert [(b["claim"], b["at_low"], b["at_high"]) for b in q["bars"]] == expected
        figure = drawn[f"tornado-{q['id']}"]
        assert figure["bars"] == q["bars"] and figure["answer"] == entry["posterior"][best]
    monkeypatch.setattr(context, "MAX_TORNADO", 1)  # the rest are counted and named
    q = context.hinges_context(s, context.strategy_list(s))["questions"][0]
    assert len(q["bars"]) == 1 and q["left_out"] == [s["claims"][c]["label"] for c in
                                                     s["sensitivity"]["questions"][q["id"]]["ranking"][1:]]


def test_the_flip_table_names_the_flip_a_summary_has():
    flip = {"value": -0.1234, "becomes_best": "b", "margin": 0.006, "within_posterior_90": False}
    h = context.hinges_context(hinged_summary(flip), HAND_STRATEGIES)
    [f] = h["flips"]
    assert f["best"]["id"] == "a"
    assert [(r["claim"], r["value"], r["becomes_best"]) for r in f["rows"]] == [("c1", -0.1234, "b")]
    row = re.search(r'<tr data-question="q1" data-claim="c1".*?</tr>', hinges_html(h), re.S)[0]
    assert " ".join(" ".join(Page(row).text).split()) == (
        "Is it up? best: Act First claim \u22120.12 (median +0.25) Bide ahead by 0.006 there no: beyond it")
    page = hinges_html(h)  # a label with markup is text, in the tables and in the tornado's SVG
    assert page.count("Second &lt;b&gt;claim&lt;/b&gt;") >= 3 and "<b>claim" not in page


def test_without_a_flip_the_table_says_no_claim_flips_the_choice():
    h = context.hinges_context(hinged_summary(None), HAND_STRATEGIES)
    assert h["flips"][0]["rows"] == []
    assert "no claim within its prior's 90% range flips the choice" in shown(hinges_html(h)).lower()


def test_a_best_strategy_tied_with_another_is_no_clear_best_and_has_no_choice_to_flip():
    summary = hinged_summary(None)
    summary["sensitivity"]["questions"]["q1"]["decision"]["tied"] = ["b"]
    h = context.hinges_context(summary, HAND_STRATEGIES)
    text = shown(hinges_html(h))
    assert "No clear best strategy for the answer sought (yes): Act is tied within Monte Carlo error with Bide" in text
    assert "No clear best strategy: it is tied within Monte Carlo error with Bide, so there is no choice to flip" in text


def test_strategies_identical_for_a_question_are_one_option_whose_flips_are_still_sought():
    """Act and Cede give the same answer in every draw (Cede's levers do not reach the
    question): the choice against Bide is clear, named with both, and Bide's flip is shown."""
    summary = hinged_summary({"value": -0.1234, "becomes_best": "b", "margin": 0.006, "within_posterior_90": True})
    summary["sensitivity"]["questions"]["q1"]["decision"].update(tied=[], equivalent=["c"], identical=[["a", "c"]])
    strategies = [*HAND_STRATEGIES, {"id": "c", "label": "Cede", "href": "strategy-c.html", "index": 2}]
    h = context.hinges_context(summary, strategies)
    [f] = h["flips"]
    assert f["best"]["label"] == "Act = Cede" and [r["becomes_label"] for r in f["rows"]] == ["Bide"]
    text = shown(hinges_html(h))
    assert ("Best strategy for the answer sought (yes): Act, identical for this question to Cede (the same answer in "
            "every draw: what sets them apart changes no draw's answer to this question), under which the probability of yes") in text
    assert "so there is no choice to flip" not in text
    summary["sensitivity"]["questions"]["q1"]["decision"].update(best="b", equivalent=[], identical=[["a", "c"]])
    summary["sensitivity"]["questions"]["q1"]["claims"]["c1"]["flip"]["becomes_best"] = "a"
    [f] = context.hinges_context(summary, strategies)["flips"]
    assert [r["becomes_label"] for r in f["rows"]] == ["Act = Cede"]


def test_a_run_analysed_before_identical_strategies_were_told_apart_does_not_claim_no_flips():
    """Its analysis took the twin for a tie and never looked for flips: read again now, the
    choice is clear, and "no claim flips the choice" would be a claim nobody checked."""
    summary = hinged_summary(None)
    decision = summary["sensitivity"]["questions"]["q1"]["decision"]
    decision.update(tied=["b"], gap_mcse={"b": 0.0})  # as such a run recorded it
    [f] = context.hinges_context(summary, HAND_STRATEGIES)["flips"]
    assert f["best"]["label"] == "Act = Bide" and f["rows"] == []
    assert f["none"].startswith("Not looked for: this run's analysis counted strategies identical for the question "
                                "as tied") and "Run the scenario again" in f["none"]


def test_a_second_tornado_shows_what_the_best_strategy_s_lead_over_the_baseline_hinges_on():
    """The tester's case: the answer hinges on one claim, the choice on another: at its 5th
    percentile the baseline would do better, which the answer's own tornado cannot show."""
    summary = hinged_summary(None)
    claims = summary["sensitivity"]["questions"]["q1"]["claims"]
    claims["c1"].update(contrast_tornado={"a": [0.02, 0.03]}, contrast_tornado_mcse={"a": [0.005, 0.005]},
                        contrast_tornado_clear={"a": False})
    claims["c2"].update(contrast_tornado={"a": [-0.1, 0.3]}, contrast_tornado_mcse={"a": [0.01, 0.01]},
                        contrast_tornado_clear={"a": True})
    strategies = [HAND_STRATEGIES[0], {**HAND_STRATEGIES[1], "baseline": True}]
    versus = context.hinges_context(summary, strategies)["questions"][0]["versus"]
    assert versus["rival"] == "b" and [b["claim"] for b in versus["bars"]] == ["c2", "c1"]
    assert versus["lead"] == pytest.approx(0.2) and [b["clear"] for b in versus["bars"]] == [True, False]
    assert versus["sentence"] == (
        "Its lead over Bide (+0.20 in the probability of yes) hinges most on \u201cSecond <b>claim</b>\u201d: from "
        "\u22120.10 to +0.30 (Monte Carlo error about 0.010 each) as its effect goes from its 5th to its 95th "
        "percentile; at its 5th percentile Bide would do better.")
    by_id = {st["id"]: st for st in strategies}
    said = context.rests_on(summary, summary["questions"][0], by_id["a"], "yes", by_id)["text"]
    assert "Its lead over Bide hinges most on \u201cSecond <b>claim</b>\u201d." in said
    # the baseline best: its lead over the runner-up, from the runner-up's contrast with it, reversed
    for c, at in (("c1", [0.01, -0.02]), ("c2", [0.1, -0.3])):
        claims[c]["contrast_tornado"] = {"b": at}
        claims[c]["contrast_tornado_mcse"] = {"b": [0.01, 0.01]}
        claims[c]["contrast_tornado_clear"] = {"b": c == "c2"}
    strategies = [{**HAND_STRATEGIES[0], "baseline": True}, HAND_STRATEGIES[1]]
    versus = context.hinges_context(summary, strategies)["questions"][0]["versus"]
    assert versus["rival"] == "b" and versus["bars"][0]["claim"] == "c2"
    assert (versus["bars"][0]["at_low"], versus["bars"][0]["at_high"]) == (-0.1, 0.3)
    assert context.hinges_context(summary, HAND_STRATEGIES)["questions"][0]["versus"] is None  # no baseline


def test_the_value_of_information_table_says_what_the_data_taught_about_each_claim():
    h = context.hinges_context(hinged_summary(None), HAND_STRATEGIES)
    rows = h["worth"]["rows"]
    assert [(r["claim"], r["evppi_text"], r["learned"]) for r in rows] == [("c1", "0.012", "the data"),
                                                                           ("c2", "0.012", "its prior")]
    assert "prior variance narrowed by 30%" in rows[0]["learned_note"]
    text = shown(hinges_html(h))
    assert "expected gain in the probability of the answer sought" in text and "0 means learning it" in text


def test_prior_only_answers_stand_beside_the_posterior_ones(rendered, runs):
    s = runs["full"].summary
    html = (rendered["full"] / "index.html").read_text(encoding="utf-8")
    cells = Cells(html).cells
    for q in s["questions"]:
        for sid, prior in s["sensitivity"]["questions"][q["id"]]["prior_only"].items():
            assert float(cells[(q["id"], sid)]["data-prior-only"]) == prior
            assert f"(prior only {prior:.2f})" in cells[(q["id"], sid)]["text"]
    # the summary: a line per question on what its answer rests on, with the best strategy's prior-only answer
    lines = Page(section(html, "summary")).find("span", **{"class": "cell-rests"})
    sm = context.summary_context(s, context.strategy_list(s), context.strategy_list(s)[0])
    assert len(lines) == len(s["questions"])
    for line, row, q in zip(lines, sm["rows"], s["questions"]):
        best = row["cells"]["best"]["data"]["strategy"]
        want = answers.sought(s, q)["answer"]
        prior = s["sensitivity"]["questions"][q["id"]]["prior_only"][best]
        assert float(line["data-prior-only"]) == answers.p_sought(prior, want)
    entry = s["sensitivity"]["questions"][q["id"]]
    best = sm["rows"][-1]["cells"]["best"]["data"]["strategy"]
    clear = [c for c in hinges_under(entry, best) if entry["claims"][c]["tornado_clear"][best]]
    if clear:  # named only when its swing is beyond Monte Carlo error under some strategy
        assert f"Hinges most on \u201c{s['claims'][clear[0]]['label']}\u201d" in shown(section(html, "summary"))
    else:
        assert "No claim on its path moves it beyond Monte Carlo error." in shown(section(html, "summary"))


def test_a_summary_without_sensitivity_says_so_plainly(runs):
    run = runs["bare"]
    older = {k: v for k, v in run.summary.items() if k != "sensitivity"}
    html = render.render_pages(type(run)(path=run.path, tree=None, summary=older, manifest=run.manifest))["index.html"]
    assert "This run has no sensitivity analysis" in shown(section(html, "hinges"))
    assert "(prior only" not in html and 'class="cell-rests"' not in html and 'id="hinge-' not in html
    assert '<section id="hinges">' in html  # the table of contents still links to it


@pytest.mark.parametrize("verdict", ["ok", "warn", "fail"])
def test_an_unclean_sampler_is_said_above_the_answers_a_decision_maker_reads(verdict):
    """The summary's best strategies are read first: a run whose sampler failed says "do not
    rely on these numbers yet" there, not only in the Diagnostics section at the bottom."""
    golden = json.loads((Path(__file__).parent / "golden" / "article_summary.json").read_text(encoding="utf-8"))
    strategies = context.strategy_list(golden)
    sm = context.summary_context(golden, strategies, next(x for x in strategies if x["baseline"]))
    d = context.diagnostics_context({**golden["diagnostics"], "verdict": verdict})
    html = render.environment().from_string('{% import "macros.html" as m %}{{ m.summary(sm, dl, d) }}').render(
        sm=sm, dl={"csv": "answers.csv", "json": "summary.json"}, d=d)
    text = " ".join(shown(html).split())
    before_table = text[:text.index("Question")]
    if verdict == "ok":
        assert "Sampler:" not in before_table
    else:
        assert f"Sampler: {context.VERDICTS[verdict][0]}. {context.VERDICTS[verdict][1]}" in before_table


def test_a_claim_whose_hypotheses_disagree_on_its_sign_is_not_said_to_lower_it():
    """Two hypotheses, one lowering and one raising: "claimed to lower it" (the first's sign, or
    the mean's) would misstate the argument; the claims section says they disagree."""
    from forecast.scenario.domain import Claim
    from forecast.scenario.priors import Distribution, Hypothesis

    def claim(*mus: float) -> Claim:
        hyps = tuple(Hypothesis(f"h{i}", 1.0, Distribution("Normal", {"mu": m, "sigma": 0.1})) for i, m in enumerate(mus))
        return Claim("c", "a", "b", 0, "", "", None, hyps)

    assert claim(-0.5, 0.5).contested_sign and not claim(0.2, 0.5).contested_sign and not claim().contested_sign
    golden = json.loads((Path(__file__).parent / "golden" / "article_summary.json").read_text(encoding="utf-8"))
    cid = next(c for c, v in golden["claims"].items() if v.get("hypotheses"))
    for contested in (False, True):
        golden["claims"][cid]["contested_sign"] = contested
        html = render.environment().from_string('{% import "macros.html" as m %}{{ m.claims(c) }}').render(
            c=context.claims_context(golden))
        assert ("competing hypotheses disagree on whether it raises or lowers it" in shown(html)) == contested
