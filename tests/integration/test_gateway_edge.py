"""The public edge of `nodeops gateway` against the real binary and a real anvil: client API keys
(Bearer, X-API-Key, path segment; wrong chain and method refused; the keys file reloaded, a broken
edit keeping the old keys), token buckets (a client at twice its limit gets about half through,
the rest 429 with Retry-After and -32005; method weights), the client address from
X-Forwarded-For only behind a trusted proxy, and CORS — raw preflights, and a real headless
Chromium page calling the gateway with `fetch` from an allowed and a refused origin.

Run: NODEOPS_BIN=build/release/nodeops PYTHONPATH=tests/support:tests/integration \
     /usr/bin/python3 -m pytest tests/integration/test_gateway_edge.py
Needs: anvil (.tools), chromium (Debian package `chromium`) for the browser test.
"""
from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import threading
import time

import pytest
import requests

from gateway_util import body, require_binaries
from harness import NODEOPS_BIN, Anvil, Nodeops, gateway_config, metric_value, wait_until

pytestmark = require_binaries()

KEYS = {"dapp": "dapp-secret-0001", "limited": "limited-secret-02", "heavy": "heavy-secret-0003",
        "fresh": "fresh-secret-0004"}


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def keys_yaml(*names: str) -> str:
    spec = {
        "dapp": "chains: [eth]\n    methods: [eth_chainId, eth_blockNumber, net_]",
        "limited": "rps: 20\n    burst: 5",
        "heavy": "rps: 0.1\n    burst: 10",
        "fresh": "chains: [eth]",
    }
    out = "keys:\n"
    for n in names:
        out += f"  - name: {n}\n    sha256: {sha(KEYS[n])}\n    {spec[n]}\n"
    return out


def write_atomically(path: pathlib.Path, text: str) -> None:
    """As a Kubernetes Secret update does: a new file renamed over the old one."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Page:
    """A static page on its own origin (http://127.0.0.1:<port>), served from a thread."""

    def __init__(self, html: str):
        content = html.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def node():
    with Anvil(chain_id=1) as a:
        yield a


@pytest.fixture(scope="module")
def page_origin():
    """The origin the browser page will have: its server is started first, its page set later."""
    page = Page("<html><body>set by the browser test</body></html>")
    yield page
    page.close()


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.yaml"
    path.write_text(keys_yaml("dapp", "limited", "heavy"))
    return path


@pytest.fixture(scope="module")
def gw(node, keys_file, page_origin):
    """auth: required, CORS for the page's origin, eth_getLogs weighing 10."""
    cfg = gateway_config(
        {"eth": (1, [("a", node.url)]), "other": (1, [("a", node.url)])},
        auth=f"{{ mode: required, keys_file: '{keys_file}', reload_interval: 100ms }}",
        cors=f"{{ allowed_origins: ['{page_origin.origin}'], max_age: 2m }}",
        rate_limits="{ method_weights: [{ method: eth_getLogs, weight: 10 }] }",
    )
    with Nodeops.gateway(cfg) as g:
        yield g


@pytest.fixture(scope="module")
def gw_open(node):
    """auth: optional, per-address limit of 3 calls (barely refilling), 127.0.0.2 a trusted proxy."""
    cfg = gateway_config({"eth": (1, [("a", node.url)])},
                         trusted_proxies="['127.0.0.2/32', 'fd00::/8']",
                         rate_limits="{ per_ip_rps: 0.01, per_ip_burst: 3 }")
    with Nodeops.gateway(cfg) as g:
        yield g


def call(url: str, method: str = "eth_chainId", params=None, headers=None, payload=None) -> requests.Response:
    h = {"Content-Type": "application/json", **(headers or {})}
    return requests.post(url, data=json.dumps(payload if payload is not None else body(method, params)), headers=h,
                         timeout=10)


def bearer(name: str) -> dict:
    return {"Authorization": f"Bearer {KEYS[name]}"}


# --- keys -----------------------------------------------------------------------------------------

def test_a_key_is_taken_from_bearer_x_api_key_or_the_path(gw):
    assert call(gw.url("/eth"), headers=bearer("dapp")).json()["result"] == "0x1"
    assert call(gw.url("/eth"), headers={"X-API-Key": KEYS["dapp"]}).json()["result"] == "0x1"
    assert call(gw.url(f"/eth/{KEYS['dapp']}")).json()["result"] == "0x1"
    m = gw.metrics()
    assert metric_value(m, "nodeops_gateway_client_requests_total", key="dapp") >= 3


def test_no_key_or_a_wrong_one_is_401_with_a_json_rpc_error(gw):
    for headers, path in (({}, "/eth"), ({"Authorization": "Bearer nope"}, "/eth"), ({"X-API-Key": "nope"}, "/eth"),
                          ({}, "/eth/nope"), ({"Authorization": f"Basic {KEYS['dapp']}"}, "/eth"),
                          ({"Authorization": f"Bearer {sha(KEYS['dapp'])}"}, "/eth")):
        r = call(gw.url(path), headers=headers)
        assert r.status_code == 401, (headers, path, r.text)
        assert r.json()["error"]["code"] == -32020, r.text
    m = gw.metrics()
    assert metric_value(m, "nodeops_gateway_client_rejections_total", key="anonymous", reason="unauthorized") >= 6
    # The load balancer's checks need no key.
    assert requests.get(gw.url("/healthz"), timeout=5).status_code == 200
    assert requests.get(gw.url("/readyz/eth"), timeout=5).status_code == 200


def test_a_key_is_refused_on_a_chain_it_may_not_use(gw):
    r = call(gw.url("/other"), headers=bearer("dapp"))
    assert r.status_code == 403 and r.json()["error"]["code"] == -32021, r.text
    assert call(gw.url("/other"), headers=bearer("limited")).json()["result"] == "0x1", "a key without a chain list"


def test_a_key_is_refused_methods_it_may_not_call_call_by_call(gw):
    batch = [body("eth_chainId", id=1), body("eth_getBalance", ["0x" + "00" * 20, "latest"], id=2),
             body("net_version", id=3)]
    r = call(gw.url("/eth"), headers=bearer("dapp"), payload=batch)
    assert r.status_code == 200, r.text
    replies = {x["id"]: x for x in r.json()}
    assert replies[1]["result"] == "0x1"
    assert replies[2]["error"]["code"] == -32021 and "eth_getBalance" in replies[2]["error"]["message"]
    assert replies[3]["result"] == "1", "a prefix rule (net_)"
    assert metric_value(gw.metrics(), "nodeops_gateway_client_rejections_total", key="dapp", reason="forbidden") >= 1


# --- rate limits ----------------------------------------------------------------------------------

def test_a_client_at_twice_its_limit_gets_about_half_through(gw):
    """Key `limited`: 20 calls/s, burst 5. Sent at 40/s for 4 s: what passes is the burst plus
    20/s over the time it took, and the rest is 429 with Retry-After and -32005."""
    before = gw.metrics()
    ok0 = metric_value(before, "nodeops_gateway_client_rejections_total", key="limited", reason="rate_limited") or 0
    session = requests.Session()
    sent, passed, limited = 0, 0, 0
    start = time.monotonic()
    for i in range(160):
        delay = start + i / 40 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        r = session.post(gw.url("/eth"), data=json.dumps(body("eth_chainId", id=i)),
                         headers={"Content-Type": "application/json", **bearer("limited")}, timeout=10)
        sent += 1
        if r.status_code == 200:
            assert r.json()["result"] == "0x1"
            passed += 1
        else:
            assert r.status_code == 429, r.text
            assert r.json()["error"]["code"] == -32005
            assert int(r.headers["Retry-After"]) >= 1
            limited += 1
    elapsed = time.monotonic() - start
    expected = min(sent, 5 + 20 * elapsed)
    print(f"sent {sent} in {elapsed:.2f}s ({sent / elapsed:.1f}/s): {passed} passed, {limited} limited, "
          f"expected about {expected:.0f}")
    assert passed + limited == sent
    assert 0.75 * expected <= passed <= 1.2 * expected + 2, (passed, expected)
    assert limited >= 0.3 * sent, f"a client at twice its limit must see refusals: {limited}/{sent}"
    after = gw.metrics()
    assert metric_value(after, "nodeops_gateway_client_rejections_total", key="limited", reason="rate_limited") - ok0 == limited


def test_heavy_methods_cost_their_weight(gw, node):
    """Key `heavy`: a burst of 10 that barely refills; eth_getLogs weighs 10, eth_chainId 1."""
    logs = body("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "0x0"}])
    assert call(gw.url("/eth"), headers=bearer("heavy"), payload=logs).status_code == 200
    r = call(gw.url("/eth"), headers=bearer("heavy"))
    assert r.status_code == 429, "the one getLogs took the whole burst"
    # An unlimited key is not affected by another key's bucket.
    assert call(gw.url("/eth"), headers=bearer("dapp")).status_code == 200


# --- client address -------------------------------------------------------------------------------

def post_from(source: str, port: int, xff: str | None) -> int:
    """POSTs eth_chainId from a given loopback source address; returns the HTTP status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        headers = {"Content-Type": "application/json"}
        if xff is not None:
            headers["X-Forwarded-For"] = xff
        conn.request("POST", "/eth", body=json.dumps(body("eth_chainId")), headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(gw_open):
    port = int(gw_open.listen.rsplit(":", 1)[1])
    # 127.0.0.1 is not a trusted proxy: every request is its own, whatever the header says.
    statuses = [post_from("127.0.0.1", port, f"198.51.100.{i}") for i in range(1, 5)]
    assert statuses == [200, 200, 200, 429], statuses


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(gw_open):
    port = int(gw_open.listen.rsplit(":", 1)[1])
    statuses = [post_from("127.0.0.2", port, "203.0.113.10") for _ in range(4)]
    assert statuses == [200, 200, 200, 429], statuses
    assert post_from("127.0.0.2", port, "203.0.113.11") == 200, "another client behind the same proxy"
    # The client writes the left of the list: the hop our proxy appended is the one that counts.
    assert post_from("127.0.0.2", port, "203.0.113.99, 203.0.113.10") == 429
    assert post_from("127.0.0.2", port, "203.0.113.10, 203.0.113.12") == 200
    # A trusted hop is skipped (IPv6 proxy range), the next untrusted one counts.
    assert post_from("127.0.0.2", port, "203.0.113.10, fd00::7") == 429


# --- CORS -----------------------------------------------------------------------------------------

def test_a_preflight_from_an_allowed_origin_is_answered(gw, page_origin):
    r = requests.options(gw.url("/eth"), headers={"Origin": page_origin.origin,
                                                   "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "authorization,content-type"},
                         timeout=5)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == page_origin.origin
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-api-key"} <= allowed
    assert r.headers["Access-Control-Max-Age"] == "120"
    assert "Origin" in r.headers["Vary"]
    # The answers themselves carry the origin, refusals included (so the page can read why).
    ok = call(gw.url("/eth"), headers={**bearer("dapp"), "Origin": page_origin.origin})
    assert ok.headers["Access-Control-Allow-Origin"] == page_origin.origin
    refused = call(gw.url("/eth"), headers={"Origin": page_origin.origin})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == page_origin.origin


def test_a_disallowed_origin_is_refused(gw):
    evil = "http://evil.example"
    r = requests.options(gw.url("/eth"), headers={"Origin": evil, "Access-Control-Request-Method": "POST"}, timeout=5)
    assert r.status_code == 403 and "Access-Control-Allow-Origin" not in r.headers
    r = call(gw.url("/eth"), headers={**bearer("dapp"), "Origin": evil})
    assert r.status_code == 403 and r.json()["error"]["code"] == -32021
    assert "Access-Control-Allow-Origin" not in r.headers
    assert metric_value(gw.metrics(), "nodeops_gateway_client_rejections_total", key="anonymous", reason="origin") >= 2


BROWSER_PAGE = """<html><body><div id="out">pending</div><script>
fetch("%(url)s", {method: "POST", headers: {"Content-Type": "application/json", "Authorization": "Bearer %(key)s"},
                  body: JSON.stringify({jsonrpc: "2.0", id: 7, method: "eth_chainId"})})
  .then(r => r.json()).then(j => { document.getElementById("out").textContent = "result:" + j.result; })
  .catch(e => { document.getElementById("out").textContent = "failed:" + e; });
</script></body></html>"""


def chromium_dom(url: str, profile: pathlib.Path) -> str:
    exe = shutil.which("chromium")
    if not exe:
        pytest.fail("chromium is missing: apt-get install chromium (scripts/bootstrap.sh installs it)")
    argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
            "--dump-dom", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_a_browser_page_calls_the_gateway_with_fetch(gw, page_origin, tmp_path):
    """A real Chromium: the Authorization header makes it send a preflight first; from the allowed
    origin the call goes through, from another origin the browser gets no answer it may read."""
    html = BROWSER_PAGE % {"url": gw.url("/eth"), "key": KEYS["dapp"]}
    page_origin.server.RequestHandlerClass.do_GET = _serve(html)
    dom = chromium_dom(page_origin.origin + "/", tmp_path / "profile-a")
    assert '<div id="out">result:0x1</div>' in dom, dom[-1500:]
    other = Page(html)  # the same page on another origin (another port)
    try:
        dom = chromium_dom(other.origin + "/", tmp_path / "profile-b")
        assert '<div id="out">failed:TypeError: Failed to fetch</div>' in dom, dom[-1500:]
    finally:
        other.close()


def _serve(html: str):
    content = html.encode()

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    return do_GET


# --- reload (last: it edits the keys file) -------------------------------------------------------

def test_the_keys_file_is_reloaded_and_a_broken_edit_keeps_the_old_keys(gw, keys_file):
    original = keys_file.read_text()
    assert call(gw.url("/eth"), headers=bearer("fresh")).status_code == 401
    try:
        write_atomically(keys_file, keys_yaml("dapp", "limited", "heavy", "fresh"))
        wait_until("the new key works", lambda: call(gw.url("/eth"), headers=bearer("fresh")).status_code == 200,
                   procs=[gw])
        assert metric_value(gw.metrics(), "nodeops_gateway_api_keys") == 4
        errors_before = metric_value(gw.metrics(), "nodeops_gateway_api_keys_reloads_total", result="error")
        broken_at = len(original.splitlines()) + 1  # the line of the broken key's name
        write_atomically(keys_file, original + "  - name: Broken Name\n    sha256: not-a-hash\n")
        wait_until("the broken edit counted",
                   lambda: metric_value(gw.metrics(), "nodeops_gateway_api_keys_reloads_total",
                                        result="error") == errors_before + 1, procs=[gw])
        # The keys of the last good file still work, including the one the broken edit drops.
        assert call(gw.url("/eth"), headers=bearer("fresh")).status_code == 200
        assert call(gw.url("/eth"), headers=bearer("dapp")).status_code == 200
        log = gw.log()
        assert f"{keys_file}:{broken_at}: keys[3].name: use lowercase letters" in log, log[-2000:]
        assert f"{keys_file}:{broken_at + 1}: keys[3].sha256: expected the 64 hex digits" in log, log[-2000:]
    finally:
        write_atomically(keys_file, original)
    wait_until("the original keys are back", lambda: call(gw.url("/eth"), headers=bearer("fresh")).status_code == 401,
               procs=[gw])


def test_a_broken_keys_file_at_start_is_a_config_error(tmp_path, node):
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n  - { name: a, sha256: abc }\n")
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(gateway_config({"eth": (1, [("a", node.url)])}, auth=f"{{ mode: required, keys_file: '{keys}' }}"))
    r = subprocess.run([str(NODEOPS_BIN), "gateway", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert f"{keys}:2: keys[0].sha256:" in r.stderr, r.stderr
