"""The README's pictures of the report and of `tcpanalyze plot`, made again from the samples: the
HTML report's first graph (time-sequence) as headless Chromium draws it, with a point's hover
label, and the `plot` PNGs.

    .venv/bin/python scripts/report_screenshots.py            # into docs/images/
    .venv/bin/python scripts/report_screenshots.py OUT_DIR

Needs chromium (Debian's package) and the test extra (Pillow); drives Chromium with the
DevTools client the HTML report's tests use (tests/report/chromium.py). Each shot is checked
before it is written: the page loaded without errors, and the graph shows the range asked for.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "report"))
from chromium import Chromium  # noqa: E402  (the tests' DevTools client)

SAMPLES = REPO / "sample_pcaps"
# The page is as wide as the shots: the report's body (max 1200 px) fills it, 28 px padding each side.
PAGE_WIDTH = 1100
# Above the graph, the shot keeps the line that says how to zoom; below it, the caption.
MARGIN_PX = 8


@dataclass
class ReportShot:
    sample: str
    x_range: tuple[float, float] | None  # seconds since the session's first packet; None: as the report draws it
    hover_frame: int | None  # the frame whose point gets its hover label (a retransmission, say)
    hover_trace: str = "retransmission"


@dataclass
class PlotShot:
    sample: str
    args: tuple[str, ...]


REPORT_SHOTS = [
    # the losses: the report already draws the span around them (0.004-0.012 s). The retransmission
    # hovered is one whose label (to its right) covers SACK blocks only: frame 204's hid frames 220 and 222.
    ReportShot("real-loss-random-sender", None, hover_frame=341),
    # the stall, as the report draws it: the whole session, the zero window shaded
    ReportShot("real-zero-window", None, hover_frame=None),
]
PLOT_SHOTS = [
    PlotShot("real-loss-random-sender", ("0", "--kind", "seq")),
    PlotShot("real-zero-window", ("0", "--kind", "seq")),
]


def tcpanalyze(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "tcpanalyze", *args], capture_output=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"tcpanalyze {' '.join(args)}: {result.stderr.decode().strip()}")


def report_shot(browser: Chromium, shot: ReportShot, html: Path) -> bytes:
    """The first graph of ``html`` (with the line above it and its caption), zoomed to
    ``shot.x_range`` and with ``shot.hover_frame``'s hover label, as a PNG."""
    page = browser.load(html.as_uri())
    if page.errors:
        raise SystemExit(f"{html.name}: {page.errors}")
    if shot.x_range is not None:
        shown = browser.call("Runtime.evaluate", awaitPromise=True, returnByValue=True, expression=(
            f"Plotly.relayout('graph-1', {{'xaxis.range': {json.dumps(list(shot.x_range))}}})"
            ".then(d => d._fullLayout.xaxis.range)"))["result"]["value"]
        if [round(v, 9) for v in shown] != [round(v, 9) for v in shot.x_range]:
            raise SystemExit(f"{html.name}: zoomed to {shown}, not {shot.x_range}")
    if shot.hover_frame is not None:
        hovered = page.evaluate(f"""(() => {{
            const gd = document.getElementById('graph-1');
            for (let curve = gd.calcdata.length - 1; curve >= 0; curve--) {{  // the marker's trace, after the bars
                const trace = gd._fullData[curve];
                if (trace.name !== {json.dumps(shot.hover_trace)} || !trace.customdata) continue;
                for (let point = 0; point < trace.customdata.length; point++) {{
                    if (trace.customdata[point][0] === {shot.hover_frame}) {{
                        Plotly.Fx.hover(gd, [{{curveNumber: curve, pointNumber: point}}]);
                        return gd.querySelectorAll('.hoverlayer .hovertext').length;
                    }}
                }}
            }}
            return 0; }})()""")
        if not hovered:
            raise SystemExit(f"{html.name}: no {shot.hover_trace} point of frame {shot.hover_frame} to hover")
    box = page.evaluate("""(() => {
        const figure = document.getElementById('graph-1').closest('figure');
        const before = figure.previousElementSibling.getBoundingClientRect();
        const after = figure.getBoundingClientRect();
        return {top: before.top + window.scrollY, bottom: after.bottom + window.scrollY}; })()""")
    top = max(0, box["top"] - MARGIN_PX)
    # the figure's bottom margin is 2em; the caption ends about 1.5 lines after the graph
    caption = page.evaluate("document.querySelector('#graph-1').closest('figure')"
                            ".querySelector('figcaption').getBoundingClientRect().bottom + window.scrollY")
    height = min(box["bottom"], caption) + MARGIN_PX - top
    full = int(page.evaluate("document.documentElement.scrollHeight"))
    browser.call("Emulation.setDeviceMetricsOverride", width=PAGE_WIDTH, height=full, deviceScaleFactor=1, mobile=False)
    data = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": top, "width": PAGE_WIDTH, "height": height, "scale": 1})["data"]
    return base64.b64decode(data)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tcpanalyze-shots-") as tmp:
        with Chromium(width=PAGE_WIDTH) as browser:
            for shot in REPORT_SHOTS:
                html = Path(tmp) / f"{shot.sample}.html"
                tcpanalyze("report", str(SAMPLES / f"{shot.sample}.pcap"), "--format", "html", "-o", str(html))
                target = out_dir / f"report-html-{shot.sample}.png"
                target.write_bytes(report_shot(browser, shot, html))
                print(target)
    for shot in PLOT_SHOTS:
        target = out_dir / f"{shot.sample}-seq.png"
        tcpanalyze("plot", str(SAMPLES / f"{shot.sample}.pcap"), *shot.args, "-o", str(target))
        print(target)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "images")
