"""The report in a real browser: headless Chromium opens it from disk with the network cut off.

Checks that the page renders (a screenshot with content), logs nothing to the console (the
pages carry a Content-Security-Policy, so any attempted script or remote load is reported
there), and requests no http(s) URL (from Chromium's network log). A control page that
does load a remote image proves the network check can fail.

Needs ``/usr/bin/chromium`` (CI installs it; locally ``apt-get install -y chromium``).
"""

from __future__ import annotations

import re
import subprocess
import warnings
from pathlib import Path

import pytest

from forecast import report

CHROMIUM = Path("/usr/bin/chromium")
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
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


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
    try:
        from tests.test_report import _run
    except ImportError:  # tests/ not a package
        from test_report import _run

    root = tmp_path_factory.mktemp("browser")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = _run(root, "full", indicators=True, baseline=True)
    return report.render_report(run, root / "report").parent


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
        # ink in the upper part (header, headline table) and further down (figures)
        top, lower = grey.crop((0, 0, 1280, 800)), grey.crop((0, 1500, 1280, 4000))
        assert top.getextrema()[0] < 100 and lower.getextrema()[0] < 100
    assert console == [], console
    assert requests == [], requests


def test_dom_has_every_section(report_dir, tmp_path):
    done = chromium((report_dir / "index.html").as_uri(), tmp_path, "--dump-dom")
    for section in ("headline", "contrasts", "trajectories", "graph", "claims", "evidence", "diagnostics",
                    "provenance"):
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
