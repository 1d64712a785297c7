"""The HTML report: one self-contained file, opened in headless Chromium (Debian's ``chromium``):
it renders without errors or network requests, its graphs are there and not blank, and it
says what the JSON report says."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from chromium import CHROMIUM, Chromium
from helpers import SAMPLE_DIR

SAMPLE = SAMPLE_DIR / "real-zero-window.pcap"
# The zero-window session is the one that needs attention: time-sequence, throughput, RTT, window.
GRAPH_KINDS = ("time-sequence graph", "throughput", "round-trip time", "advertised window and bytes in flight")

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def report_files(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("html")
    files = {"html": out / "report.html", "json": out / "report.json"}
    for fmt, path in files.items():
        result = subprocess.run([sys.executable, "-m", "tcpanalyze", "report", str(SAMPLE), "--format", fmt,
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


def test_html_is_self_contained(report_files):
    html = report_files["html"].read_text()
    assert re.findall(r'(?:src|href)\s*=\s*"(?!data:)', html) == []
    assert "<link" not in html and "<script" not in html and "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the page forbids any load but data: images
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', html)
    assert [alt.rsplit(": ", 1)[1] for _, alt in images] == list(GRAPH_KINDS)
    for data, _ in images:
        assert_not_blank(decode_png(base64.b64decode(data)))


@needs_chromium
def test_chromium_renders_the_report_without_errors_or_requests(report_files):
    url = report_files["html"].as_uri()
    data = report_files["data"]
    with Chromium(width=1280) as browser:
        page = browser.load(url)
        assert page.errors == []
        assert [u for u in page.requests if not u.startswith("data:")] == [url]
        text = page.evaluate("document.body.innerText")
        images = page.evaluate("Array.from(document.images).map(i => "
                               "({src: i.currentSrc, w: i.naturalWidth, h: i.naturalHeight, shown: i.width, ok: i.complete}))")
        layout = page.evaluate("({width: document.documentElement.scrollWidth, tables: document.querySelectorAll('table').length})")
        shot = page.screenshot()
    screenshot = report_files["dir"] / "report.png"
    screenshot.write_bytes(shot)

    # the same words and numbers as the JSON
    for diagnosis in data["attention"][0]["diagnoses"]:
        assert diagnosis["message"] in text
    assert data["servers"][0]["server"] in text and f"{data['servers'][0]['bytes']:,}" in text
    # the graphs decoded and laid out: every image loaded, non-blank, no wider than the page
    assert len(images) == len(GRAPH_KINDS)
    for image in images:
        assert image["ok"] and image["w"] > 300 and image["h"] > 200 and 0 < image["shown"] <= 1280
        assert_not_blank(decode_png(base64.b64decode(image["src"].split(",", 1)[1])))
    assert layout == {"width": 1280, "tables": 3}  # problems, servers, sessions; nothing overflows sideways
    pixels = decode_png(shot)
    assert pixels.shape[1] == 1280 and pixels.shape[0] > 1500
    assert_not_blank(pixels)
