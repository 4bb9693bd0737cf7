"""The report in a real browser: headless Chromium opens it from disk with the network cut off.

* Every page renders (a screenshot with content), logs nothing to the console (the pages
  carry a Content-Security-Policy, so any attempted script or remote load is reported there)
  and requests no http(s) URL (from Chromium's network log). A control page that does load a
  remote image proves the network check can fail.
* At 390 px (a phone) and 1280 px the document is no wider than the window, figure text is at
  least 10 px high, the causal graph's arrows cross no box but their own ends, and no tick
  label is written as a power of ten ("2×10²"). These are measured by a script run in a copy
  of each page (the report itself has none, and its policy forbids one).
* Printed to PDF, every table is whole on its page, closed details are printed open, and the
  causal graph has a landscape page.

Screenshots of every page at both widths are kept in ``build/report-screenshots/`` (git
ignores it) to look at. Needs ``/usr/bin/chromium`` (CI installs it; locally
``apt-get install -y chromium``).
"""

from __future__ import annotations

import html as htmllib
import itertools
import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from forecast import report

from .conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "build" / "report-screenshots"
WIDTHS = (390, 1280)
# Chromium's own background traffic (updates, time, accounts), not requests of the page.
BROWSER_HOSTS = re.compile(r"^https?://([^/]+\.)?(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)(:\d+)?/")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install -y chromium)"),
]


def chromium(url: str, work: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on ``url`` with the network unreachable and logging to stderr."""
    args = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={work / 'profile'}", "--enable-logging=stderr", "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND", *extra, url,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=180)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def page_requests(netlog: Path) -> list[str]:
    """http(s) URLs in Chromium's network log, less the browser's own background traffic."""
    urls = set(re.findall(r'"url":"(https?://[^"]+)"', netlog.read_text(encoding="utf-8", errors="replace")))
    return sorted(u for u in urls if not BROWSER_HOSTS.match(u))


def open_page(page: Path, work: Path) -> tuple[Path, list[str], list[str]]:
    """Screenshot, console messages and network requests of one page."""
    work.mkdir(parents=True, exist_ok=True)
    shot, netlog = work / f"{page.stem}.png", work / f"{page.stem}.netlog.json"
    done = chromium(page.as_uri(), work, f"--screenshot={shot}", "--window-size=1280,4000",
                    f"--log-net-log={netlog}")
    assert shot.is_file(), done.stderr[-2000:]
    return shot, console_messages(done.stderr), page_requests(netlog)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    """The tiny scenario of test_report, sampled and rendered once."""
    from .test_report import _run

    root = tmp_path_factory.mktemp("browser")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = _run(root, "full", indicators=True, baseline=True)
    return report.render_report(run, root / "report").parent


def page_names(report_dir: Path) -> list[str]:
    return sorted(p.name for p in report_dir.glob("*.html"))


@pytest.mark.parametrize("name", ["index.html", "strategy-press.html"])
def test_page_renders_without_errors_or_network(report_dir, tmp_path, name):
    shot, console, requests = open_page(report_dir / name, tmp_path)
    print(f"screenshot: {shot}")
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 4000)
        grey = im.convert("L")
        lo, hi = grey.getextrema()
        assert hi - lo > 100, "the screenshot is blank"
        # ink in the upper part (header, summary) and further down (figures)
        top, lower = grey.crop((0, 0, 1280, 800)), grey.crop((0, 1500, 1280, 4000))
        assert top.getextrema()[0] < 100 and lower.getextrema()[0] < 100
    assert console == [], console
    assert requests == [], requests


def test_dom_has_every_section(report_dir, tmp_path):
    done = chromium((report_dir / "index.html").as_uri(), tmp_path, "--dump-dom")
    for section in ("summary", "headline", "contrasts", "hinges", "trajectories", "graph", "claims", "evidence",
                    "diagnostics", "provenance"):
        assert f'<section id="{section}">' in done.stdout
    assert done.stdout.count("<svg") >= 5


def test_the_checks_can_fail(tmp_path):
    """Control: a page that loads a remote image and logs an error is caught by both checks."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><img src="http://example.com/x.png"><script>console.error("boom")</script>',
                   encoding="utf-8")
    _, console, requests = open_page(bad, tmp_path / "work")
    assert any("boom" in line for line in console)
    assert "http://example.com/x.png" in requests


# --- Layout at a phone's width and a desktop's, measured in the browser ---------------------------

#: Run in a copy of a page: what a reader would see, as JSON in <pre id="measured">.
MEASURE = r"""
<script>
(function () {
  const out = {viewport: window.innerWidth, height: document.documentElement.scrollHeight};
  out.width = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
  out.sticking_out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > window.innerWidth + 0.5 && !el.closest(".table-wrap, .scroll"))
      out.sticking_out.push(el.tagName.toLowerCase() + "." + el.className);
  }
  out.text = [];  // [figure id, smallest text in px]
  for (const svg of document.querySelectorAll("figure svg")) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    let least = 1e9;
    for (const t of svg.querySelectorAll("text"))
      if (t.textContent.trim()) least = Math.min(least, parseFloat(getComputedStyle(t).fontSize) * scale);
    out.text.push([svg.closest("figure").id, least]);
  }
  out.labels = [...document.querySelectorAll("figure svg text")].map(t => t.textContent);
  out.summary_cells = [...document.querySelectorAll("table.summary td")].map(
    td => td.getBoundingClientRect().width / td.closest("table").getBoundingClientRect().width);
  out.crossings = []; out.edges = 0;
  for (const svg of document.querySelectorAll('figure[id^="fig-graph"] svg')) {
    const boxes = [...svg.querySelectorAll('g[id*="-node--"]')].map(
      g => [g.id.split("node--")[1], g.querySelector("path").getBoundingClientRect()]);
    for (const g of svg.querySelectorAll('g[id*="-edge--"]')) {
      out.edges += 1;
      const [cause, effect] = g.id.split("edge--")[1].split("--");
      const path = g.querySelector("path"), ctm = path.getScreenCTM(), length = path.getTotalLength();
      for (let i = 0; i <= 300; i++) {
        const p = path.getPointAtLength(length * i / 300).matrixTransform(ctm);
        for (const [id, r] of boxes)
          if (id !== cause && id !== effect && p.x > r.left + 1 && p.x < r.right - 1 && p.y > r.top + 1 && p.y < r.bottom - 1)
            out.crossings.push(g.id.split("edge--")[1] + " through " + id);
      }
    }
  }
  out.crossings = [...new Set(out.crossings)];
  parent.postMessage(JSON.stringify(out), "*");
})();
</script>
"""
#: A window holding a page in a frame of the given width: the frame is the page's viewport
#: (Chromium's headless window is never narrower than 500 px), and the page's measurements
#: come back as a message into <pre id="measured">.
FRAME = """<!doctype html><html><body style="margin:0"><pre id="measured"></pre>
<iframe src="{src}" width="{width}" height="2000" style="border:0; display:block"></iframe>
<script>addEventListener("message", e => {{ document.getElementById("measured").textContent = e.data; }});</script>
</body></html>"""


def measured_copy(report_dir: Path, work: Path) -> Path:
    """A copy of the report whose pages run :data:`MEASURE` (their script policy dropped), and
    a :data:`FRAME` for each page and width."""
    copy = work / "measured"
    if not copy.exists():
        shutil.copytree(report_dir, copy)
        for page in copy.glob("*.html"):
            text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text(encoding="utf-8"))
            page.write_text(text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
            for width in WIDTHS:
                (copy / f"frame-{width}-{page.name}").write_text(FRAME.format(src=page.name, width=width),
                                                                 encoding="utf-8")
    return copy


def measure(copy: Path, name: str, width: int, work: Path) -> dict:
    frame = copy / f"frame-{width}-{name}"
    done = chromium(frame.as_uri(), work, "--dump-dom", "--window-size=1400,2100", "--virtual-time-budget=10000")
    found = re.search(r'<pre id="measured">(.+?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(htmllib.unescape(found[1]))


@pytest.fixture(scope="module")
def measurements(report_dir, tmp_path_factory) -> dict[tuple[str, int], dict]:
    """Each page measured at each width, with a full-page screenshot kept in build/."""
    work = tmp_path_factory.mktemp("measure")
    copy = measured_copy(report_dir, work)
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    out = {}
    for name, width in itertools.product(page_names(report_dir), WIDTHS):
        m = out[(name, width)] = measure(copy, name, width, work)
        shot = SCREENSHOTS / f"{Path(name).stem}-{width}.png"
        chromium((report_dir / name).as_uri(), work, f"--screenshot={shot}",
                 f"--window-size={width},{min(m['height'] + 20, 30000)}")
        assert shot.is_file()
    print(f"\nscreenshots of every page at {' and '.join(map(str, WIDTHS))} px: {SCREENSHOTS}")
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_wider_than_the_window(measurements, width):
    """A phone never scrolls the page sideways: wide tables and figures scroll in their own box."""
    for (name, w), m in measurements.items():
        if w == width:
            assert m["viewport"] == width, m["viewport"]
            assert m["width"] <= width, (name, m["width"], m["sticking_out"][:5])
            assert m["sticking_out"] == [], (name, m["sticking_out"][:5])


def test_on_a_phone_the_summary_is_one_card_per_question(measurements):
    """At 390 px each summary cell spans its card (a label above each value), not a sliver of a column."""
    cells = measurements[("index.html", 390)]["summary_cells"]
    assert cells and min(cells) > 0.8, cells
    assert max(measurements[("index.html", 1280)]["summary_cells"]) < 0.5  # a table on a desktop


@pytest.mark.parametrize("width", WIDTHS)
def test_figure_text_is_at_least_10_px(measurements, width):
    for (name, w), m in measurements.items():
        if w == width:
            small = [(fig, round(px, 1)) for fig, px in m["text"] if px < 9.95]
            assert m["text"] and not small, (name, small)


def test_no_arrow_of_the_causal_graph_runs_through_another_box(measurements, report_dir):
    from forecast.report import graph

    if graph.dot_binary() is None:
        pytest.skip("needs Graphviz's dot (apt-get install graphviz; scripts/setup installs it)")
    for (name, width), m in measurements.items():
        assert m["edges"] == 2, name  # the tiny scenario's two claims
        assert m["crossings"] == [], (name, width, m["crossings"])


def test_no_tick_label_is_a_power_of_ten(measurements):
    for (name, _), m in measurements.items():
        assert m["labels"], name
        assert not [t for t in m["labels"] if "\u00d7" in t or "\u2009\u00d7" in t], name


# --- Print --------------------------------------------------------------------------------------


def mark_rows(html: str) -> tuple[str, dict[int, int]]:
    """The page with a marker at the start and the end of every table row ("QT3R2S", "QT3R2E"),
    and each table's number of rows. A row is whole on paper when both its markers are on
    one page; a table is whole when its first row's start and last row's end are."""
    tables = itertools.count()
    rows: dict[int, int] = {}

    def table(m: re.Match) -> str:
        t = next(tables)
        count = itertools.count()

        def row(r: re.Match) -> str:
            k = next(count)
            body = r[2]
            body = re.sub(r"(<t[hd]\b[^>]*>)", rf'\1<span style="font-size:5px">QT{t}R{k}S</span>', body, count=1)
            at = body.rfind("</t")
            body = body[:at] + f'<span style="font-size:5px">QT{t}R{k}E</span>' + body[at:]
            return r[1] + body + r[3]

        marked = re.sub(r"(<tr\b[^>]*>)(.*?)(</tr>)", row, m[0], flags=re.S)
        rows[t] = next(count)
        return marked

    return re.sub(r"<table\b.*?</table>", table, html, flags=re.S), rows


def pdf_pages(pdf: Path) -> list[tuple[str, bool]]:
    """Each page's text, and whether the page is landscape."""
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    return [(p.extract_text() or "", float(p.mediabox.width) > float(p.mediabox.height)) for p in reader.pages]


@pytest.mark.parametrize("name", ["index.html", "strategy-press.html"])
def test_printed_tables_are_whole_and_details_open(report_dir, tmp_path, name):
    copy = tmp_path / "print"
    shutil.copytree(report_dir, copy)
    page = copy / name
    marked, rows = mark_rows(page.read_text(encoding="utf-8"))
    page.write_text(marked, encoding="utf-8")
    pdf = tmp_path / f"{page.stem}.pdf"
    chromium(page.as_uri(), tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert pdf.is_file()
    printed = pdf_pages(pdf)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pdf, SCREENSHOTS / f"{page.stem}.pdf")  # kept to look at, beside the screenshots
    where: dict[str, list[int]] = {}
    for i, (text, _) in enumerate(printed):
        for mark in re.findall(r"QT\d+R\d+[SE]", text):
            where.setdefault(mark, []).append(i)
    assert rows, "the page has tables"
    for t, n in rows.items():
        for k in range(n):
            for end in "SE":  # every row printed once: closed details (the observations) print open
                assert len(where.get(f"QT{t}R{k}{end}", [])) == 1, (t, k, end, len(printed))
            assert where[f"QT{t}R{k}S"] == where[f"QT{t}R{k}E"], f"table {t} row {k} is split across pages"
        assert where[f"QT{t}R0S"] == where[f"QT{t}R{n - 1}E"], f"table {t} is split across pages"
    text = " ".join(t for t, _ in printed)
    if name == "index.html":
        assert "[indicators.trade_volume]" in text  # the scenario file, in closed details on screen
    graph_page = next(i for i, (t, _) in enumerate(printed) if "Causal graph" in t)
    assert printed[graph_page][1], "the causal graph is printed on a landscape page"
    print(f"{name}: {len(printed)} pages")
