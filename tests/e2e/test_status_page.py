"""The gateway's status page (admin port, GET /) rendered by headless Chromium against a running
stack: every upstream is listed, a lagging one is marked as such, and a screenshot is kept in
$NODEOPS_ARTIFACTS/status_page.png (default build/test-artifacts) for a human to look at.

Run: /usr/bin/python3 -m pytest tests/e2e/test_status_page.py   (about 40 seconds)
Needs: chromium (Debian package `chromium`).
"""
import html
import re
import subprocess
import threading
import time

import pytest
import requests
from harness import ARTIFACTS
from local_stack import require, wait

# The page needs the nodes and the gateway; Prometheus and Alertmanager would only slow it down.
STACK_OPTIONS = {"monitoring": False}
LAG_NODE = "eth-c"
UPSTREAMS = ["eth-a", "eth-b", "eth-c", "polygon-a", "polygon-b"]


def chromium(url: str, tmp, *args: str, timeout: float = 60) -> str:
    exe = require("chromium", "apt-get install chromium")
    argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp}", "--virtual-time-budget=5000",
            *args, url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"chromium failed ({out.returncode}):\n{out.stderr[-3000:]}"
    return out.stdout


def rows(dom: str) -> dict:
    """upstream name -> (data-state, the row's text, the row's HTML) from the rendered DOM."""
    found = {}
    for m in re.finditer(r'<tr class="[^"]*" data-upstream="([^"]*)" data-state="([^"]*)">(.*?)</tr>', dom, re.S):
        name = html.unescape(m.group(1))
        # Text only: the sparkline's <svg> has none.
        text = html.unescape(re.sub(r"<[^>]+>", " ", m.group(3)))
        found[name] = (m.group(2), " ".join(text.split()), m.group(3))
    return found


@pytest.fixture(scope="module")
def lagging_stack(stack):
    """Some traffic for the req/s column, then one ethereum node stops mining until the gateway
    takes it out of rotation."""
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            for chain in ("ethereum", "polygon"):
                try:
                    stack.rpc(chain, "eth_blockNumber", timeout=5)
                except requests.RequestException:
                    pass
            time.sleep(0.05)

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    time.sleep(6)  # a few health rounds of history with traffic in it
    stack.stop_mining(LAG_NODE)
    wait(f"{LAG_NODE} lagging", lambda: stack.upstream("ethereum", LAG_NODE)["reason"].startswith("lagging"), 20,
         stack=stack)
    time.sleep(3)
    yield stack
    stop.set()
    t.join(10)


def test_page_is_self_contained(stack):
    r = requests.get(stack.admin_url("/"), timeout=5)
    assert r.ok and r.headers["Content-Type"].startswith("text/html")
    page = r.text
    # No external assets: nothing loaded from elsewhere.
    assert not re.search(r'(src|href)\s*=|@import|url\(', page, re.I)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)
    # Data reaches the DOM as text only.
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page and "document.write" not in page


def test_rendered_page_shows_every_upstream_and_the_lagging_one(lagging_stack, tmp_path):
    stack = lagging_stack
    dom = chromium(stack.admin_url("/"), tmp_path / "profile", "--dump-dom")
    found = rows(dom)
    assert set(found) == set(UPSTREAMS), f"rows: {sorted(found)}\n{dom[:3000]}"
    state, text, _ = found[LAG_NODE]
    assert state == "lagging", text
    assert re.search(r"\blagging \d+ blocks", text), text
    for name in UPSTREAMS:
        if name != LAG_NODE:
            assert found[name][0] == "healthy", (name, found[name][:2])
        # The sparkline is drawn from the gateway's history: requests/s, head, the health band.
        row = found[name][2]
        assert 'class="rps"' in row and 'class="head"' in row and 'class="up"' in row, (name, row[:500])
    # The health band ends red for the lagging node, green for the others.
    band = {name: re.findall(r'<rect [^>]*class="(up|down)"', found[name][2]) for name in UPSTREAMS}
    assert band[LAG_NODE][-1] == "down", band
    assert all(band[n][-1] == "up" for n in UPSTREAMS if n != LAG_NODE), band
    # Chain cards with their ids, and the head the gateway reports.
    assert 'data-chain="ethereum"' in dom and 'data-chain="polygon"' in dom
    assert re.search(r"chain id <b>137</b>", dom)
    assert "4 of 5 upstreams healthy" in dom


def test_screenshot(lagging_stack, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status_page.png"
    shot.unlink(missing_ok=True)
    chromium(lagging_stack.admin_url("/"), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,900",
             "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, f"{shot}: {len(data)} bytes"
    print(f"screenshot: {shot}")
