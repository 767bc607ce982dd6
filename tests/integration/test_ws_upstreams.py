"""ws:// and wss:// upstreams against real parts: JSON-RPC over one WebSocket per upstream and loop.

- Real anvil serves JSON-RPC over WebSocket on its HTTP port; a relay (tests/support/ws_upstream.py)
  in front of it answers concurrently and can send replies in the reverse order of the requests,
  so a client that matched replies by order instead of id would hand out wrong blocks.
- wss through a real nginx terminating TLS (certificates from a throwaway CA, tests/support/pki.py):
  the valid certificate works and carries many calls per connection; a wrong host name, an expired
  and a self-signed certificate are refused, each with its reason, like https.
- A relay that demands a header and a key in the path sees both in the upgrade (from files); a
  refused upgrade is that HTTP answer (a 429's Retry-After reaching the caller is unit-tested:
  tests/unit/core/ws_client_test.cc). The wss provider behind nginx, with its secrets never shown,
  is test_gateway_providers.py's credentials test.
- Hostile WebSocket upstreams (garbage, wrong ids, silence, a huge message, closes, resets, a peer
  that never answers a ping): beside an honest node, no client call fails and the gateway lives.
- A node killed and restarted: calls in flight move to the other node; the WebSocket is opened again.
- Live reloads that move an upstream to its ws:// endpoint and back under load, no call failing.

Run: NODEOPS_BIN=build/release/nodeops /usr/bin/python3 -m pytest tests/integration/test_ws_upstreams.py
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib
import shutil
import signal
import tempfile
import time

import pytest

from gateway_util import CallLoop, assert_certificates_refused, body, post, require_binaries
from harness import Anvil, Nodeops, free_port, metric_value, wait_until
from nginx_tls import NGINX, Nginx
from pki import OPENSSL, provider_certificates
from ws_upstream import WsUpstream

pytestmark = require_binaries()

HEADER_SECRET = "hdr-5d1c8e2a94f7b3060aa1"
URL_SECRET = "wsK8m2Qp7Lr4Tv9Xz3Yb6"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def ws_url(node: Anvil) -> str:
    return f"ws://127.0.0.1:{node.port}"


def gateway_yaml(upstreams: list[dict], *, chain: dict | None = None, threads: int = 2,
                 limits: dict | None = None) -> str:
    lines = [f"listen: 127.0.0.1:{free_port()}", f"admin_listen: 127.0.0.1:{free_port()}", f"threads: {threads}"]
    if limits:
        lines.append("limits:")
        lines += [f"  {k}: {v}" for k, v in limits.items()]
    lines += ["chains:", "  - name: eth", "    chain_id: 1", "    health_interval: 300ms"]
    lines += [f"    {k}: {json.dumps(v)}" for k, v in (chain or {}).items()]
    lines.append("    upstreams:")
    lines += ["      - " + json.dumps(u) for u in upstreams]
    return "\n".join(lines) + "\n"


def block_hashes(node: Anvil, n: int) -> dict[int, str]:
    return {i: node.rpc("eth_getBlockByNumber", [hex(i), False])["result"]["hash"] for i in range(n)}


def fetch_blocks(gw: Nodeops, numbers: list[int], workers: int = 16) -> list[tuple[int, dict]]:
    """eth_getBlockByNumber for each number, all at once; the client id is the number."""
    def one(i: int) -> dict:
        return post(gw.url("/eth"), body("eth_getBlockByNumber", [hex(i), False], id=i), timeout=20).json()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(zip(numbers, pool.map(one, numbers)))


def upstream_counter(gw: Nodeops, name: str, metric: str, **labels) -> float:
    return metric_value(gw.metrics(), metric, chain="eth", upstream=name, **labels) or 0


def upstream_errors(gw: Nodeops, name: str) -> float:
    """nodeops_gateway_upstream_errors_total of one upstream, every reason."""
    return sum(upstream_counter(gw, name, "nodeops_gateway_upstream_errors_total", reason=r)
               for r in ("connect", "timeout", "http_status", "bad_response"))


# --- plain ws ---------------------------------------------------------------------------------

def test_calls_share_one_websocket_and_replies_are_matched_by_id():
    with Anvil(chain_id=1) as node:
        node.mine(40)
        want = block_hashes(node, 41)
        with WsUpstream(node.url, "reorder") as relay:
            cfg = gateway_yaml([{"name": "ws", "url": relay.url, "batching": "off"}])
            with Nodeops.gateway(cfg) as gw:
                wait_until("ws healthy", lambda: gw.upstream("eth", "ws")["healthy"], procs=[gw])
                got = fetch_blocks(gw, list(range(41)) * 2, workers=24)
                for i, reply in got:
                    assert reply.get("id") == i and reply["result"]["hash"] == want[i], (i, reply)
                # The relay answered many calls at once on one connection, newest first: only ids
                # can have put each reply with its call.
                assert relay.max_in_flight_per_connection > 1, relay.max_in_flight_per_connection
                # One WebSocket per traffic loop (2) and one for the probe, not one per call.
                assert relay.connections <= 3, relay.connections
                assert upstream_counter(gw, "ws", "nodeops_gateway_upstream_requests_total", outcome="ok") >= 82
                assert 1 <= upstream_counter(gw, "ws", "nodeops_gateway_upstream_connections") <= 2
                up = gw.upstream("eth", "ws")
                assert up["url"] == relay.url and up["tls"] is False

                # Batches go over the WebSocket as arrays and come back whole.
                batch = [body("eth_getBlockByNumber", [hex(i), False], id=f"b{i}") for i in range(5)]
                reply = post(gw.url("/eth"), batch).json()
                assert [r["id"] for r in reply] == [f"b{i}" for i in range(5)]
                assert [r["result"]["hash"] for r in reply] == [want[i] for i in range(5)]


def test_anvil_websocket_directly_and_a_node_killed_and_restarted():
    """anvil's own WebSocket as the upstream: killed under load, its calls go to the other node with
    no failed client call; restarted on its port, it is reached over a new WebSocket."""
    port = free_port()
    with Anvil(chain_id=1) as other:
        node = Anvil(chain_id=1, port=port)
        try:
            cfg = gateway_yaml([{"name": "ws", "url": ws_url(node)}, {"name": "http", "url": other.url}],
                               chain={"passive_health": {"cooldown": "300ms"}})
            with Nodeops.gateway(cfg) as gw:
                wait_until("both healthy", lambda: all(u["healthy"] for u in gw.status()["chains"][0]["upstreams"]),
                           procs=[gw])
                served = lambda: upstream_counter(gw, "ws", "nodeops_gateway_upstream_requests_total", outcome="ok")
                with concurrent.futures.ThreadPoolExecutor(8) as pool:
                    def call(i):
                        r = post(gw.url("/eth"), body("eth_getBalance", [ADDRESS, "latest"], id=i), timeout=20)
                        return r.status_code == 200 and "result" in r.json()
                    first = list(pool.map(call, range(200)))
                    assert all(first) and served() > 0
                    node.stop()
                    during = list(pool.map(call, range(200)))
                    assert all(during), f"{during.count(False)} client calls failed while the node died"
                    wait_until("ws out of rotation", lambda: not gw.upstream("eth", "ws")["healthy"], procs=[gw])
                    assert upstream_counter(gw, "ws", "nodeops_gateway_upstream_connections") == 0

                    node = Anvil(chain_id=1, port=port)
                    wait_until("ws back", lambda: gw.upstream("eth", "ws")["healthy"], procs=[gw])
                    before = served()
                    after = list(pool.map(call, range(200)))
                    assert all(after)
                    assert served() > before, "the restarted node got no call over its new WebSocket"
                    assert upstream_counter(gw, "ws", "nodeops_gateway_upstream_connections") >= 1
        finally:
            node.stop()


# --- hostile WebSocket upstreams ----------------------------------------------------------------

# fault -> whether the upstream can still serve correct answers (binary frames and notifications
# are legal; everything else is a broken upstream that must leave rotation).
HOSTILE = {
    "binary": True,
    "notify": True,
    "garbage": False,
    "wrong_id": False,
    "silent": False,
    "huge": False,
    "close_after_request": False,
    "drop_tcp": False,
    "result_empty_object": False,
}


@pytest.mark.parametrize("fault", list(HOSTILE))
def test_hostile_websocket_upstream_beside_an_honest_node(fault):
    """The relay is honest until the upstream is in rotation, then turns: the calls it gets then
    are retried on the honest node, and it leaves rotation (passive health, then its probe)."""
    with Anvil(chain_id=1) as node, WsUpstream(node.url, huge_bytes=3 << 20) as relay:
        cfg = gateway_yaml([{"name": "ws", "url": relay.url, "weight": 10}, {"name": "honest", "url": node.url}],
                           limits={"upstream_timeout": "1s", "max_reply_bytes": "1MiB"},
                           chain={"passive_health": {"consecutive_failures": 3, "cooldown": "30s"}})
        with Nodeops.gateway(cfg) as gw:
            wait_until("both healthy", lambda: all(u["healthy"] for u in gw.status()["chains"][0]["upstreams"]),
                       procs=[gw])
            want = node.rpc("eth_getBalance", [ADDRESS, "0x0"])["result"]
            served = lambda: upstream_counter(gw, "ws", "nodeops_gateway_upstream_requests_total", outcome="ok")
            served_before = served()
            relay.set_fault(fault)
            before = len(relay.methods)

            def call(i: int) -> dict:
                return post(gw.url("/eth"), body("eth_getBalance", [ADDRESS, "0x0"], id=i), timeout=20).json()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                replies = list(pool.map(call, range(60)))
            failed = [r for r in replies if r.get("result") != want]
            assert not failed, f"{len(failed)} client calls failed: {failed[:2]}"
            # The probe never asks for balances: these are client calls that reached the relay.
            assert "eth_getBalance" in relay.methods[before:], "the faulty upstream got no call: the test proves nothing"
            if HOSTILE[fault]:
                assert gw.upstream("eth", "ws")["healthy"]
                assert served() > served_before
            else:
                wait_until(f"{fault}: ws out of rotation", lambda: not gw.upstream("eth", "ws")["healthy"], procs=[gw])
                assert upstream_errors(gw, "ws") > 0
            gw.assert_alive()


def test_a_peer_that_never_answers_a_ping_is_dropped_and_one_that_does_is_kept():
    """A WebSocket whose peer went silent below the protocol (no pong): after WsRpcClient::kIdle
    (20 s) the connection is closed as dead, and the calls go elsewhere meanwhile. Beside it, an
    honest node's idle WebSocket lives through the same 20 s on its pongs alone."""
    with Anvil(chain_id=1) as node, WsUpstream(node.url, "blackhole") as relay, WsUpstream(node.url) as honest:
        cfg = gateway_yaml([{"name": "ws", "url": relay.url}, {"name": "honest", "url": honest.url}],
                           limits={"upstream_timeout": "1s"}, threads=1)
        with Nodeops.gateway(cfg, wait_ready=False) as gw:
            wait_until("honest healthy", lambda: gw.upstream("eth", "honest")["healthy"], procs=[gw])
            assert not gw.upstream("eth", "ws")["healthy"]
            for i in range(20):
                assert "result" in post(gw.url("/eth"), body("eth_getBalance", [ADDRESS, "latest"], id=i)).json()
            kept = honest.connections  # its probe's WebSocket and its one traffic loop's
            quiet_since = time.monotonic()
            wait_until("the probe's WebSocket opened", lambda: relay.open_connections >= 1)
            opened = relay.connections
            # Dead within kIdle (a ping after 10 s of silence, closed 10 s later) and opened again.
            wait_until("dead connection dropped and replaced", lambda: relay.connections > opened, timeout=40,
                       procs=[gw])
            assert gw.upstream("eth", "ws")["state"] != "healthy"
            # The honest traffic WebSocket has now been idle longer than kIdle (20 s).
            time.sleep(max(0.0, quiet_since + 25 - time.monotonic()))
            for i in range(5):
                assert "result" in post(gw.url("/eth"), body("eth_getBalance", [ADDRESS, "latest"], id=i)).json()
            assert honest.connections == kept, "an idle WebSocket whose node answers pings was dropped"


@pytest.mark.parametrize("status", [401, 429])
def test_upgrade_refused_is_that_http_answer(status):
    with Anvil(chain_id=1) as node, WsUpstream(node.url, f"refuse_{status}") as relay:
        cfg = gateway_yaml([{"name": "ws", "url": relay.url}, {"name": "honest", "url": node.url}])
        with Nodeops.gateway(cfg) as gw:
            for i in range(20):
                assert "result" in post(gw.url("/eth"), body("eth_getBalance", [ADDRESS, "latest"], id=i)).json()
            u = gw.upstream("eth", "ws")
            assert not u["healthy"] and f"HTTP {status}" in u["reason"], u
            assert relay.connections == 0 and len(relay.upgrades) >= 1


def test_reload_moves_an_upstream_to_its_websocket_and_back_under_load():
    """Live reloads (SIGHUP) change the one upstream's URL to ws:// and back while clients call
    without pause: the new one is probed before it serves, the old one's calls in flight finish
    (on the WebSocket too: its connection closes after its last call), and no call fails."""
    with Anvil(chain_id=1) as node, WsUpstream(node.url, "reorder") as relay:
        cfg = gateway_yaml([{"name": "a", "url": node.url}])
        over_ws = cfg.replace(f'"url": "{node.url}"', f'"url": "{relay.url}"')
        with Nodeops.gateway(cfg) as gw:
            load = CallLoop(gw.url("/eth"), body("eth_getBalance", [ADDRESS, "latest"]), threads=6).start()
            try:
                def reload(text: str, url: str) -> None:
                    gw.config_path.write_text(text)
                    gw.signal(signal.SIGHUP)
                    wait_until(f"a at {url}", lambda: (a := gw.upstream("eth", "a"))["url"] == url and a["healthy"],
                               procs=[gw])
                    seen = load.ok
                    wait_until("calls flow", lambda: load.ok > seen + 50, procs=[gw])

                reload(over_ws, relay.url)
                first = relay.connections  # the probe's and the traffic loops' WebSockets
                reload(cfg, node.url)
                # The traffic WebSockets close once their last calls are done (the probe's stays).
                wait_until("traffic WebSockets closed", lambda: relay.open_connections < first, procs=[gw])
                reload(over_ws, relay.url)
                assert relay.connections > first  # opened again
                served_by_relay = relay.methods.count("eth_getBalance")
            finally:
                load.stop()
            assert not load.failed, f"{len(load.failed)} calls failed: {load.failed[:3]}"
            assert served_by_relay > 100, served_by_relay


# --- wss and providers -------------------------------------------------------------------------

if not (os.path.exists(NGINX) and os.path.exists(OPENSSL)):
    if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
        raise RuntimeError(f"missing nginx ({NGINX}) or openssl ({OPENSSL})")
    pytest.skip("nginx or openssl missing", allow_module_level=True)

# nginx passing WebSocket upgrades through to anvil (what a provider's edge does).
WS_PROXY = """    location / {
      proxy_pass http://anvil;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 300s;
    }"""


@pytest.fixture(scope="module")
def pki():
    """ca.crt, and key/certificate pairs: good (localhost), wronghost, expired, selfsigned."""
    d = provider_certificates(pathlib.Path(tempfile.mkdtemp(prefix="nodeops-pki-")))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_wss_upstreams_are_verified_like_https(pki):
    with Anvil(chain_id=1) as node, Nginx(pki, node.port, {
        "good": ("good", WS_PROXY), "wronghost": ("wronghost", WS_PROXY), "expired": ("expired", WS_PROXY),
        "selfsigned": ("selfsigned", WS_PROXY),
    }) as ngx:
        node.mine(20)
        want = block_hashes(node, 21)
        ca = str(pki / "ca.crt")
        cfg = gateway_yaml([
            {"name": "good", "url": f"wss://localhost:{ngx.ports['good']}", "ca_file": ca},
            {"name": "wronghost", "url": f"wss://localhost:{ngx.ports['wronghost']}", "ca_file": ca},
            {"name": "expired", "url": f"wss://localhost:{ngx.ports['expired']}", "ca_file": ca},
            {"name": "selfsigned", "url": f"wss://localhost:{ngx.ports['selfsigned']}"},  # the system CAs
        ], threads=1)
        with Nodeops.gateway(cfg) as gw:
            wait_until("good healthy", lambda: gw.upstream("eth", "good")["healthy"], procs=[gw])
            got = fetch_blocks(gw, list(range(21)) * 3)
            for i, reply in got:
                assert reply["result"]["hash"] == want[i], (i, reply)
            assert_certificates_refused(gw)
            good = gw.upstream("eth", "good")
            assert good["tls"] is True and good["url"] == f"wss://localhost:{ngx.ports['good']}"
            for name in ("wronghost", "expired", "selfsigned"):
                assert ngx.access(name) == [], name  # refused before the upgrade
            # Each upgrade is one line in nginx's log (status 101, logged when the WebSocket ends);
            # the 63 calls and the probes rode two WebSockets (traffic and probe), still open.
            assert all(r[3] == 101 for r in ngx.access("good"))
            assert upstream_counter(gw, "good", "nodeops_gateway_upstream_requests_total", outcome="ok") >= 63
            assert upstream_counter(gw, "good", "nodeops_gateway_upstream_connections") == 1
        # The gateway has stopped: its WebSockets closed, and nginx logged each once.
        wait_until("nginx logged the upgrades", lambda: len(ngx.access("good")) >= 2)
        assert len(ngx.access("good")) == 2, ngx.access("good")


def test_a_header_and_path_key_reach_the_upgrade(tmp_path):
    """The relay records the upgrade itself: the headers_file's header and the url_file's path."""
    with Anvil(chain_id=1) as node, WsUpstream(node.url, require_header=("X-Api-Key", HEADER_SECRET),
                                                path=f"/ws/{URL_SECRET}") as relay:
        url_file = tmp_path / "url"
        url_file.write_text(relay.url)
        headers_file = tmp_path / "headers"
        headers_file.write_text(f"X-Api-Key: {HEADER_SECRET}\n")
        cfg = gateway_yaml([{"name": "ws", "url_file": str(url_file), "headers_file": str(headers_file)}])
        with Nodeops.gateway(cfg) as gw:
            wait_until("ws healthy", lambda: gw.upstream("eth", "ws")["healthy"], procs=[gw])
            assert "result" in post(gw.url("/eth"), body("eth_getBalance", [ADDRESS, "latest"])).json()
        accepted = [(p, h) for p, h in relay.upgrades if h.get("x-api-key") == HEADER_SECRET]
        assert accepted and all(p == f"/ws/{URL_SECRET}" for p, _ in accepted), relay.upgrades
        assert all(h.get("user-agent") == "nodeops" for _, h in relay.upgrades)
        assert relay.connections >= 1

