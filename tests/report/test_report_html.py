"""The HTML report: one self-contained file with plotly.js embedded once, opened in headless
Chromium (Debian's ``chromium``): it renders without errors or network requests, its graphs are
drawn, zoom changes what they show, and it says what the JSON report says; on a zero-window
stall and on a lossy transfer."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from plotly.offline import get_plotlyjs

from chromium import CHROMIUM, Chromium
from helpers import SAMPLE_DIR

# One session each, the one with the problem (a zero-window stall; 7 segments re-sent):
# time-sequence, throughput, RTT, window.
SAMPLES = (SAMPLE_DIR / "real-zero-window.pcap", SAMPLE_DIR / "real-loss-random-sender.pcap")
GRAPH_KINDS = ("time-sequence graph", "throughput", "round-trip time", "advertised window and bytes in flight")

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")


@pytest.fixture(scope="module", params=SAMPLES, ids=lambda p: p.stem)
def report_files(request, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("html")
    files = {"html": out / "report.html", "json": out / "report.json"}
    for fmt, path in files.items():
        result = subprocess.run([sys.executable, "-m", "tcpanalyze", "report", str(request.param), "--format", fmt,
                                 "-o", str(path)], capture_output=True, timeout=300)
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout == b""
    return {"html": files["html"], "data": json.loads(files["json"].read_text()), "dir": out}


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def assert_not_blank(pixels: np.ndarray) -> None:
    """Drawn content: many colours, and a good share of pixels that are not the background."""
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    background = np.all(pixels == pixels[0, 0], axis=-1)
    assert len(colours) > 16
    assert 0.01 < 1 - background.mean() < 0.9


def test_html_is_self_contained_with_plotly_js_embedded_once(report_files):
    html = report_files["html"].read_text()
    assert html.count(get_plotlyjs()) == 1
    assert re.findall(r"<script[^>]*\bsrc\s*=", html) == [] and "<link" not in html
    assert re.findall(r'<img[^>]*src\\s*=\\s*"(?!data:)', html) == []
    assert "default-src 'none'" in html  # the page forbids any load: scripts and styles inline only
    assert re.findall(r'<div id="(graph-\d+)" class="plotly-graph-div"', html) == [
        f"graph-{n}" for n in range(1, len(GRAPH_KINDS) + 1)]
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", html)
    assert [c.split(": ", 1)[1].split(", ")[0] for c in captions] == list(GRAPH_KINDS)  # then the span, if cut


@needs_chromium
def test_chromium_renders_the_report_without_errors_or_requests(report_files):
    url = report_files["html"].as_uri()
    data = report_files["data"]
    with Chromium(width=1280) as browser:
        page = browser.load(url)
        assert page.errors == []
        assert [u for u in page.requests if not u.startswith("data:")] == [url]
        text = page.evaluate("document.body.innerText")
        graphs = page.evaluate("Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => "
                               "({id: d.id, w: d.offsetWidth, h: d.offsetHeight, svg: d.querySelectorAll('.main-svg').length, "
                               "traces: d.querySelectorAll('.scatterlayer .trace').length, "
                               "x: d._fullLayout.xaxis.range, y: d._fullLayout.yaxis.range}))")
        layout = page.evaluate("({width: document.documentElement.scrollWidth, tables: document.querySelectorAll('table').length})")
        # zoom the time-sequence graph to its middle half: the layout (what is shown) follows
        x0, x1 = graphs[0]["x"]
        zoom = [x0 + (x1 - x0) / 4, x1 - (x1 - x0) / 4]
        zoomed = browser.call("Runtime.evaluate", awaitPromise=True, returnByValue=True, expression=(
            f"Plotly.relayout('graph-1', {{'xaxis.range': {json.dumps(zoom)}}})"
            ".then(d => d._fullLayout.xaxis.range)"))["result"]["value"]
        ticks = page.evaluate("Array.from(document.querySelectorAll('#graph-1 .xtick text')).map(t => +t.textContent)")
        shot = page.screenshot()
    (report_files["dir"] / "report.png").write_bytes(shot)

    # the same words and numbers as the JSON
    for attention in data["attention"][:1]:
        for diagnosis in attention["diagnoses"]:
            assert diagnosis["message"] in text
    assert data["servers"][0]["server"] in text and f"{data['servers'][0]['bytes']:,}" in text
    # every graph drawn by plotly.js, with its traces, no wider than the page
    assert len(graphs) == len(GRAPH_KINDS)
    for graph in graphs:
        assert graph["svg"] >= 2 and graph["traces"] >= 1 and 300 < graph["w"] <= 1280 and 480 <= graph["h"] <= 482  # + border
    assert zoomed == pytest.approx(zoom)
    assert ticks and zoom[0] <= min(ticks) and max(ticks) <= zoom[1]  # the axis shows only the zoomed span
    # problems, servers and (when the JSON has any) sessions; nothing overflows sideways
    assert layout == {"width": 1280, "tables": 2 + bool(data["attention"])}
    pixels = decode_png(shot)
    assert pixels.shape[1] == 1280 and pixels.shape[0] > 1500
    assert_not_blank(pixels)
