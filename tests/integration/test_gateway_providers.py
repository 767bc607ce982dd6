"""Providers as fallback, against real parts: TLS upstreams, credentials from files, tiers, 429s.

- A throwaway CA and certificates made here with the `openssl` CLI (one valid for localhost, one
  for another name, one expired, one self-signed), and a real nginx terminating TLS with each in
  front of a real anvil. The gateway reaches the valid one and reuses its connections (nginx's
  access log: `$connection $connection_requests`); the three others are refused, each with its
  reason in /status and the log.
- A provider-like nginx that demands an API key header (from `headers_file`) and a key in the URL
  path (from `url_file`); neither secret ever appears in the gateway's log, /status, status page
  or metrics.
- Tiers: a fallback provider takes the calls when both primaries die and leaves when they
  recover, with no failed client call during either switch.
- A provider answering 429 with Retry-After is backed off (it gets no call for that time) and
  its breaker does not trip.

Run: NODEOPS_BIN=build/release/nodeops /usr/bin/python3 -m pytest tests/integration/test_gateway_providers.py
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from gateway_util import CallLoop, assert_certificates_refused, assert_never_shown, body, post, require_binaries, served_texts
from harness import Anvil, Nodeops, free_port, metric_value, wait_until
from nginx_tls import NGINX, Nginx
from pki import OPENSSL, provider_certificates

pytestmark = require_binaries()

if not (os.path.exists(NGINX) and os.path.exists(OPENSSL)):
    if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
        raise RuntimeError(f"missing nginx ({NGINX}) or openssl ({OPENSSL})")
    pytest.skip("nginx or openssl missing", allow_module_level=True)

# The provider's credentials: they must never show anywhere the gateway writes or serves.
HEADER_SECRET = "hdr-7f3a9c2e51b84d06a1e2"
URL_SECRET = "url9Xk2Qm7Lp4Rt8Vw3Zy6"


# --- a throwaway CA (tests/support/pki.py) -------------------------------------------------------

@pytest.fixture(scope="module")
def pki():
    """ca.crt, and key/certificate pairs: good (localhost), wronghost, expired, selfsigned."""
    d = provider_certificates(pathlib.Path(tempfile.mkdtemp(prefix="nodeops-pki-")))
    yield d
    shutil.rmtree(d, ignore_errors=True)


PROXY = """    location / {
      proxy_pass http://anvil;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }"""

# A provider: the key in the path and an API key header, or 401 (what Alchemy/Infura-style plans do).
PROVIDER = f"""    location = /v2/{URL_SECRET} {{
      if ($http_x_api_key != "{HEADER_SECRET}") {{ return 401 '{{"error":"missing or wrong API key"}}'; }}
      proxy_pass http://anvil/;
      proxy_http_version 1.1;
      # WebSocket upgrades pass through (wss); plain requests send no Connection header (keep-alive).
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $http_connection;
    }}
    location / {{ return 401 '{{"error":"unknown key"}}'; }}"""


def gateway_yaml(upstreams: list[dict], *, chain: dict | None = None, log_level: str = "info") -> str:
    """A one-chain gateway config (chain `eth`, id 1) with one traffic loop, so connection reuse is countable."""
    lines = [f"listen: 127.0.0.1:{free_port()}", f"admin_listen: 127.0.0.1:{free_port()}", "threads: 1",
             f"log_level: {log_level}", "chains:", "  - name: eth", "    chain_id: 1", "    health_interval: 300ms"]
    lines += [f"    {k}: {json.dumps(v)}" for k, v in (chain or {}).items()]
    lines.append("    upstreams:")
    for u in upstreams:
        lines.append("      - " + json.dumps(u))
    return "\n".join(lines) + "\n"


def calls_ok(gw: Nodeops, n: int, method: str = "eth_getBalance") -> int:
    """Sends n calls one after the other; returns how many got a JSON-RPC result."""
    ok = 0
    with requests.Session() as s:
        for i in range(n):
            r = post(gw.url("/eth"), body(method, ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest"], id=i),
                     session=s)
            ok += int(r.status_code == 200 and "result" in r.json())
    return ok


# --- TLS ----------------------------------------------------------------------------------------

def test_tls_upstreams_verify_certificates_and_reuse_connections(pki):
    with Anvil(chain_id=1) as node, Nginx(pki, node.port, {
        "good": ("good", PROXY), "wronghost": ("wronghost", PROXY), "expired": ("expired", PROXY),
        "selfsigned": ("selfsigned", PROXY),
    }) as ngx:
        ca = str(pki / "ca.crt")
        cfg = gateway_yaml([
            {"name": "good", "url": f"https://localhost:{ngx.ports['good']}", "ca_file": ca},
            {"name": "wronghost", "url": f"https://localhost:{ngx.ports['wronghost']}", "ca_file": ca},
            {"name": "expired", "url": f"https://localhost:{ngx.ports['expired']}", "ca_file": ca},
            # No ca_file: the system CAs, which never signed a self-signed certificate.
            {"name": "selfsigned", "url": f"https://localhost:{ngx.ports['selfsigned']}"},
        ])
        with Nodeops.gateway(cfg) as gw:
            wait_until("good healthy", lambda: gw.upstream("eth", "good")["healthy"], procs=[gw])
            assert calls_ok(gw, 40) == 40

            assert_certificates_refused(gw)
            good = gw.upstream("eth", "good")
            assert good["tls"] is True and good["url"] == f"https://localhost:{ngx.ports['good']}"
            # Refused before any request: nginx never saw one on those servers.
            for name in ("wronghost", "expired", "selfsigned"):
                assert ngx.access(name) == [], name
            log = gw.log()
            for name in ("wronghost", "expired", "selfsigned"):
                assert re.search(rf'"upstream":"{name}".*certificate verify failed', log), f"no log line for {name}"
            # Keep-alive over TLS: the 40 calls and the probes rode a few connections, not one each.
            seen = ngx.access("good")
            calls = [r for r in seen if r[3] == 200]
            assert len(calls) >= 40
            connections = {r[0] for r in calls}
            assert len(connections) <= 4, f"{len(connections)} TLS connections for {len(calls)} requests"
            assert max(r[1] for r in calls) >= 20, "no connection carried many requests"


# --- credentials from files ---------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["https", "wss"])
def test_provider_credentials_come_from_files_and_never_show(pki, tmp_path, scheme):
    """The same provider over https and over its WebSocket (wss: the header and the key in the path
    go with the upgrade)."""
    with Anvil(chain_id=1) as node, Nginx(pki, node.port, {"provider": ("good", PROVIDER)}) as ngx:
        port = ngx.ports["provider"]
        url_file = tmp_path / "url"
        url_file.write_text(f"{scheme}://localhost:{port}/v2/{URL_SECRET}\n")
        headers_file = tmp_path / "headers"
        headers_file.write_text(f"# from the provider's dashboard\nX-Api-Key: {HEADER_SECRET}\n")
        wrong_headers = tmp_path / "wrong-headers"
        wrong_headers.write_text("X-Api-Key: not-the-key\n")
        ca = str(pki / "ca.crt")
        cfg = gateway_yaml([
            {"name": "provider", "url_file": str(url_file), "headers_file": str(headers_file), "ca_file": ca},
            # Same URL, wrong header: the provider refuses it (so the header really is demanded).
            {"name": "wrongkey", "url_file": str(url_file), "headers_file": str(wrong_headers), "ca_file": ca},
            # Right header, no key in the path: refused too.
            {"name": "nourlkey", "url": f"{scheme}://localhost:{port}/v2/", "headers_file": str(headers_file),
             "ca_file": ca},
        ], log_level="debug")
        with Nodeops.gateway(cfg) as gw:
            wait_until("provider healthy", lambda: gw.upstream("eth", "provider")["healthy"], procs=[gw])
            assert calls_ok(gw, 10) == 10
            for name in ("wrongkey", "nourlkey"):
                u = wait_until(f"{name} judged", lambda n=name: (u := gw.upstream("eth", n))["state"] != "not_probed" and u)
                assert not u["healthy"] and "401" in u["reason"], u
            assert metric_value(gw.metrics(), "nodeops_gateway_upstream_requests_total", upstream="provider",
                                outcome="ok") >= 10

            texts = served_texts(gw)
            shown = gw.upstream("eth", "provider")["url"]
            assert shown == f"{scheme}://localhost:{port}/<redacted>", shown
        # nginx logs a WebSocket when it ends: once the gateway has stopped.
        ok = 200 if scheme == "https" else 101
        served = wait_until("provider's log", lambda: [r for r in ngx.access("provider") if r[3] == ok])
        assert all(r[2] == f"/v2/{URL_SECRET}" for r in served), served
        assert_never_shown({**texts, "log": gw.log()}, (HEADER_SECRET, URL_SECRET))
        assert '"upstream":"wrongkey"' in gw.log()  # the log did talk about these upstreams


# --- tiers --------------------------------------------------------------------------------------

def tier_count(gw: Nodeops, tier: str) -> float:
    return metric_value(gw.metrics(), "nodeops_gateway_tier_requests_total", chain="eth", tier=tier) or 0


def test_fallback_takes_over_when_primaries_die_and_leaves_when_they_recover(pki, tmp_path):
    p1_port, p2_port = free_port(), free_port()
    with Anvil(chain_id=1) as fallback_node, Nginx(pki, fallback_node.port, {"provider": ("good", PROVIDER)}) as ngx:
        url_file = tmp_path / "url"
        url_file.write_text(f"https://localhost:{ngx.ports['provider']}/v2/{URL_SECRET}")
        headers_file = tmp_path / "headers"
        headers_file.write_text(f"X-Api-Key: {HEADER_SECRET}\n")
        p1, p2 = Anvil(chain_id=1, port=p1_port), Anvil(chain_id=1, port=p2_port)
        cfg = gateway_yaml([
            {"name": "own-1", "url": p1.url},
            {"name": "own-2", "url": p2.url},
            {"name": "provider", "url_file": str(url_file), "headers_file": str(headers_file),
             "ca_file": str(pki / "ca.crt"), "tier": "fallback"},
        ], chain={"passive_health": {"cooldown": "500ms"}})
        try:
            with Nodeops.gateway(cfg) as gw:
                wait_until("all healthy", lambda: all(u["healthy"] for u in gw.status()["chains"][0]["upstreams"]),
                           procs=[gw])
                metrics = gw.metrics()
                assert 'tier="fallback"' in metrics and metric_value(metrics, "nodeops_gateway_upstream_info",
                                                                      upstream="provider", tier="fallback") == 1
                loop = CallLoop(gw.url("/eth"), body("eth_getBalance", ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest"]))
                loop.start()
                try:
                    wait_until("primaries serve", lambda: tier_count(gw, "primary") >= 50)
                    assert tier_count(gw, "fallback") == 0, "the provider took calls while the primaries served"

                    # Both primaries die: the provider takes over.
                    p1.stop()
                    p2.stop()
                    before = tier_count(gw, "fallback")
                    wait_until("fallback serves", lambda: tier_count(gw, "fallback") >= before + 50)
                    wait_until("primaries out", lambda: not any(
                        u["healthy"] for u in gw.status()["chains"][0]["upstreams"] if u["name"] != "provider"))

                    # They come back: the provider leaves again.
                    p1, p2 = Anvil(chain_id=1, port=p1_port), Anvil(chain_id=1, port=p2_port)
                    wait_until("primaries back", lambda: all(u["healthy"] for u in gw.status()["chains"][0]["upstreams"]),
                               procs=[gw])
                    wait_until("primaries serve again", lambda: (a := tier_count(gw, "primary")) and
                               time.sleep(0.5) is None and tier_count(gw, "primary") > a)
                    after = tier_count(gw, "fallback")
                    primary = tier_count(gw, "primary")
                    wait_until("more primary calls", lambda: tier_count(gw, "primary") >= primary + 100)
                    assert tier_count(gw, "fallback") == after, "the provider kept taking calls after the primaries recovered"
                finally:
                    loop.stop()
                assert loop.ok > 200
                assert loop.failed == [], f"{len(loop.failed)} client calls failed during the switches: {loop.failed[:3]}"
        finally:
            p1.stop()
            p2.stop()


# --- 429 ----------------------------------------------------------------------------------------

class RateLimitedProvider:
    """A provider in front of anvil that answers 429 with Retry-After to calls while it is "full"
    (probes, sent as batches, pass). Counts the single calls it receives."""

    def __init__(self, anvil_url: str):
        self.anvil_url = anvil_url
        self.calls = 0
        self.limited = 0
        self.full_until = 0.0
        self.retry_after = "4"
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # noqa: D401 - quiet
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                single = data.lstrip().startswith(b"{")
                if single:
                    with provider.lock:
                        provider.calls += 1
                        full = time.monotonic() < provider.full_until
                        if full:
                            provider.limited += 1
                    if full:
                        reply = b'{"error":"rate limit exceeded"}'
                        self.send_response(429)
                        self.send_header("Retry-After", provider.retry_after)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(reply)))
                        self.end_headers()
                        self.wfile.write(reply)
                        return
                r = requests.post(provider.anvil_url, data=data, headers={"Content-Type": "application/json"}, timeout=5)
                self.send_response(r.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def fill(self, seconds: float) -> None:
        with self.lock:
            self.full_until = time.monotonic() + seconds

    def count(self) -> int:
        with self.lock:
            return self.calls

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_429_backs_the_provider_off_without_tripping_its_breaker():
    with Anvil(chain_id=1) as provider_node, Anvil(chain_id=1) as own:
        provider = RateLimitedProvider(provider_node.url)
        try:
            # The provider takes nearly every call (weight), the own node the rest.
            cfg = gateway_yaml([
                {"name": "provider", "url": provider.url, "weight": 1000},
                {"name": "own", "url": own.url, "weight": 0.001},
            ], chain={"passive_health": {"consecutive_failures": 2, "min_calls": 2}})
            with Nodeops.gateway(cfg) as gw:
                wait_until("both healthy", lambda: all(u["healthy"] for u in gw.status()["chains"][0]["upstreams"]),
                           procs=[gw])
                assert calls_ok(gw, 20) == 20
                assert provider.count() >= 15

                provider.retry_after = "6"
                provider.fill(60)  # full for longer than its Retry-After says: only the gateway's back-off holds calls
                assert calls_ok(gw, 1) == 1  # the 429 is retried on the own node
                assert provider.limited == 1
                at_429 = provider.count()
                t0 = time.monotonic()
                ok = 0
                while time.monotonic() - t0 < 4:  # well inside the 6 s it asked for
                    ok += calls_ok(gw, 5)
                assert ok >= 20
                assert provider.count() == at_429, "calls reached the provider during its Retry-After"

                u = gw.upstream("eth", "provider")
                assert u["healthy"] and u["state"] == "healthy", u
                assert u["consecutive_failures"] == 0 and u["backoff_s"] > 0, u
                m = gw.metrics()
                assert metric_value(m, "nodeops_gateway_upstream_requests_total", upstream="provider",
                                    outcome="rate_limited") == 1
                assert metric_value(m, "nodeops_gateway_upstream_requests_total", upstream="provider", outcome="error") == 0
                assert metric_value(m, "nodeops_gateway_upstream_throttled_total", upstream="provider",
                                    reason="backoff") >= 20
                assert metric_value(m, "nodeops_gateway_retries_total", chain="eth", reason="rate_limited") == 1

                # Once the Retry-After has passed (and the provider has room again) it takes calls again.
                provider.fill(0)
                wait_until("provider called again", lambda: calls_ok(gw, 5) and provider.count() > at_429, timeout=20)
                assert "upstream rate-limited us" in gw.log()
        finally:
            provider.close()
