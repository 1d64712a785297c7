"""A screenshot of `tcpanalyze live` during a transfer: the view runs in a tmux pane while
loopback traffic flows (steady transfers, connections aborted by RST, connections refused), the
pane is captured with its colours (`tmux capture-pane -p -e`) and drawn as a PNG.

    .venv/bin/python scripts/live_view_screenshot.py docs/images/live-view.png

Needs tmux, dumpcap with the right to capture on lo, and Pillow (the test extra).
"""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLUMNS, ROWS = 150, 44
SECONDS_BEFORE_SHOT = 8.0
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
FONT_SIZE = 15
BACKGROUND, FOREGROUND = (24, 24, 27), (212, 212, 216)
# xterm's 16 colours (normal, then bright)
PALETTE = [(0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188), (17, 168, 205),
           (229, 229, 229), (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67), (59, 142, 234),
           (214, 112, 214), (41, 184, 219), (255, 255, 255)]
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def traffic(port: int, refused_port: int, until: float) -> None:
    """Until ``until``: three clients (127.0.0.2-4) sending at a few MB/s each to 127.0.0.1, one
    (127.0.0.5) whose connection it aborts by RST every 0.3 s, one (127.0.0.6) refused every 0.5 s."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)

    def serve() -> None:
        while time.monotonic() < until:
            conn, _ = server.accept()
            threading.Thread(target=drain, args=(conn,), daemon=True).start()

    def drain(conn: socket.socket) -> None:
        with conn:
            try:
                while conn.recv(65536):
                    pass
            except ConnectionResetError:
                pass  # the aborted ones

    def sender(source: str, pace_s: float) -> None:
        while time.monotonic() < until:
            with socket.create_connection(("127.0.0.1", port), source_address=(source, 0)) as client:
                for _ in range(50):
                    client.sendall(b"d" * 32768)
                    time.sleep(pace_s)

    def aborter() -> None:
        while time.monotonic() < until:
            client = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.5", 0))
            client.sendall(b"hello" * 200)
            time.sleep(0.05)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            time.sleep(0.3)

    def refused() -> None:
        while time.monotonic() < until:
            try:
                socket.create_connection(("127.0.0.9", refused_port), source_address=("127.0.0.6", 0)).close()
            except ConnectionRefusedError:
                pass
            time.sleep(0.5)

    threading.Thread(target=serve, daemon=True).start()
    workers = [threading.Thread(target=sender, args=(f"127.0.0.{2 + k}", pace))
               for k, pace in enumerate((0.004, 0.01, 0.02))]
    workers += [threading.Thread(target=aborter), threading.Thread(target=refused)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def capture_pane(seconds: float) -> str:
    """Run the live view in a detached tmux session for ``seconds`` with traffic, and capture it."""
    port, refused_port = free_port(), free_port()
    session = f"tcpanalyze-shot-{port}"
    command = (f"{sys.executable} -m tcpanalyze live -i lo --capture-filter 'tcp port {port} or tcp port {refused_port}' "
               f"--duration {seconds + 10:g}")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(COLUMNS), "-y", str(ROWS), command],
                   check=True, cwd=Path(__file__).resolve().parents[1])
    try:
        time.sleep(4.0)  # dumpcap starts, the view comes up
        until = time.monotonic() + seconds + 2
        load = threading.Thread(target=traffic, args=(port, refused_port, until), daemon=True)
        load.start()
        time.sleep(seconds)
        return subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", session], check=True, capture_output=True,
                              text=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def colour(codes: list[int], at: int) -> tuple[tuple[int, int, int], int]:
    """The colour an SGR 38/48 sequence starting at ``at`` names, and how many codes it took."""
    if codes[at + 1] == 5:
        n = codes[at + 2]
        if n < 16:
            return PALETTE[n], 3
        if n >= 232:
            grey = 8 + 10 * (n - 232)
            return (grey, grey, grey), 3
        n -= 16
        return tuple(0 if c == 0 else 55 + 40 * c for c in (n // 36, n // 6 % 6, n % 6)), 3
    return tuple(codes[at + 2 : at + 5]), 5


def render(text: str, path: Path) -> None:
    """Draw ANSI-coloured terminal text as a PNG."""
    regular, bold = ImageFont.truetype(FONT, FONT_SIZE), ImageFont.truetype(BOLD_FONT, FONT_SIZE)
    width = int(regular.getlength("M"))
    height = FONT_SIZE + 4
    lines = text.rstrip("\n").split("\n")
    image = Image.new("RGB", (width * COLUMNS + 24, height * len(lines) + 24), BACKGROUND)
    draw = ImageDraw.Draw(image)
    fg, is_bold = FOREGROUND, False
    for row, line in enumerate(lines):
        x = 12
        for k, piece in enumerate(SGR.split(line)):
            if k % 2:  # an SGR sequence's parameters
                codes = [int(c) for c in piece.split(";") if c] or [0]
                i = 0
                while i < len(codes):
                    code = codes[i]
                    step = 1
                    if code == 0:
                        fg, is_bold = FOREGROUND, False
                    elif code == 1:
                        is_bold = True
                    elif code == 22:
                        is_bold = False
                    elif 30 <= code <= 37 or 90 <= code <= 97:
                        fg = PALETTE[code - 30 if code < 90 else code - 82]
                    elif code == 39:
                        fg = FOREGROUND
                    elif code in (38, 48):
                        picked, step = colour(codes, i)
                        fg = picked if code == 38 else fg
                    i += step
                continue
            draw.text((x, 12 + row * height), piece, fill=fg, font=bold if is_bold else regular)
            x += width * len(piece)
    image.save(path)


def main() -> None:
    if shutil.which("tmux") is None:
        sys.exit("live_view_screenshot: needs tmux (apt-get install tmux)")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images/live-view.png")
    text = capture_pane(SECONDS_BEFORE_SHOT)
    render(text, out)
    print(f"{out}: {len(text.splitlines())} lines")


if __name__ == "__main__":
    main()
