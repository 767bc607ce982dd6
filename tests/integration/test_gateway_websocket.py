"""JSON-RPC over WebSocket on the gateway's traffic port, against the real binary and a real anvil:
a real client library (ethers v6 WebSocketProvider), and the protocol itself with Debian's
python3-websockets and raw frames — fragmentation, ping/pong, the close handshake, replies matched
by id while a slow call is still out, batches, a message over the size limit (1009), a client that
never reads (1008, memory bounded), the per-address connection cap, the API key on the upgrade,
keepalive pings and the idle timeout, and drain (the in-flight call answered, then 1001).

Run: NODEOPS_BIN=build/release/nodeops PYTHONPATH=tests/support:tests/integration \
     /usr/bin/python3 -m pytest tests/integration/test_gateway_websocket.py
Needs: anvil and ethers (.tools), node, python3-websockets (Debian).
"""
from __future__ import annotations

import asyncio
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from gateway_util import DEV_ADDR, body, require_binaries
from harness import REPO, Anvil, Nodeops, gateway_config, metric_value, wait_until

websockets = pytest.importorskip("websockets")  # Debian python3-websockets (scripts/bootstrap.sh)

pytestmark = require_binaries()

ETHERS = REPO / ".tools" / "node_modules" / "ethers"
SLOW_METHOD = "eth_getStorageAt"  # the delaying proxy holds these for SLOW_SECONDS
SLOW_SECONDS = 2.0
KEY = "ws-secret-key-0001"
TIGHT_KEY = "ws-tight-key-0002"  # 2 calls, then 0.01/s
# 16 KiB of zeros from any call: runtime PUSH3 0x4000 PUSH1 0 RETURN, behind a CODECOPY init.
BIG_RETURN_INIT = "0x6007600c60003960076000f3" + "62004000" + "6000f3"


class DelayingProxy:
    """Forwards JSON-RPC to a node, holding calls of SLOW_METHOD for SLOW_SECONDS: an upstream with
    one slow method, to see calls answered concurrently and drained."""

    def __init__(self, backend_port: int):
        self.seen_slow = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                data = self.rfile.read(int(self.headers["Content-Length"]))
                if SLOW_METHOD.encode() in data:
                    proxy.seen_slow += 1
                    time.sleep(SLOW_SECONDS)
                conn = http.client.HTTPConnection("127.0.0.1", backend_port, timeout=10)
                conn.request("POST", "/", data, {"Content-Type": "application/json"})
                answer = conn.getresponse().read()
                conn.close()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the gateway gave up on it (stopped, or timed out)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 drops a burst of connections

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def node():
    with Anvil(chain_id=1) as a:
        yield a


@pytest.fixture(scope="module")
def proxy(node):
    p = DelayingProxy(node.port)
    yield p
    p.close()


def ws_config(node, proxy, **extra) -> str:
    """/eth straight to the node; /slow through the delaying proxy (one call per exchange)."""
    return gateway_config({"eth": (1, [("a", node.url)]), "slow": (1, [("a", proxy.url, {"batching": "off"})])},
                          **extra)


@pytest.fixture(scope="module")
def gw(node, proxy):
    cfg = ws_config(node, proxy,
                    websocket="{ max_message: 64KiB, max_send_queue: 256KiB, max_connections_per_ip: 3 }")
    with Nodeops.gateway(cfg) as g:
        yield g


@pytest.fixture(scope="module")
def gw_auth(node, proxy, tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys.write_text(f"keys:\n  - name: wsclient\n    sha256: {hashlib.sha256(KEY.encode()).hexdigest()}\n"
                    f"  - name: tight\n    sha256: {hashlib.sha256(TIGHT_KEY.encode()).hexdigest()}\n"
                    "    rps: 0.01\n    burst: 2\n")
    with Nodeops.gateway(ws_config(node, proxy, auth=f"{{ mode: required, keys_file: '{keys}' }}")) as g:
        yield g


def ws_url(gw, path: str = "/eth") -> str:
    return gw.url(path).replace("http://", "ws://", 1)


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connections(gw) -> float:
    return metric_value(gw.metrics(), "nodeops_gateway_websocket_connections") or 0


# --- raw RFC 6455, for what a client library hides ------------------------------------------------

def raw_connect(gw, path: str = "/eth", rcvbuf: int | None = None) -> socket.socket:
    host, port = gw.listen.split(":")
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: no autotuning
    s.settimeout(30)
    s.connect((host, int(port)))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, f"closed during the handshake: {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head  # RFC 6455's accept value for that key
    return s


def frame(payload: bytes, opcode: int = 1, fin: bool = True) -> bytes:
    """One masked client frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def recv_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return out


def read_frame(s: socket.socket) -> tuple[int, bytes]:
    """One server frame (unmasked): (opcode, payload)."""
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8))[0]
    assert not b1 & 0x80, "a server frame must not be masked"
    return b0 & 0x0F, recv_exact(s, n)


# --- a real client library ------------------------------------------------------------------------

def test_ethers_websocket_provider_reads_and_sends_a_transfer(gw):
    node_bin = shutil.which("node")
    if not node_bin or not ETHERS.is_dir():
        if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
            pytest.fail("node and ethers (make bootstrap) are required")
        pytest.skip("node or ethers missing")
    out = subprocess.run([node_bin, str(REPO / "tests" / "e2e" / "js" / "ws_dapp.js"), ws_url(gw)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "ETHERS_PATH": str(ETHERS)})
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc.get("chainId") == 1, (doc, out.stderr[-2000:])
    assert doc.get("sameBalances") is True and doc.get("status") == 1 and doc.get("gained") == "12345", doc
    m = gw.metrics()
    assert metric_value(m, "nodeops_gateway_websocket_messages_total", direction="in") >= 8
    assert metric_value(m, "nodeops_gateway_requests_total", chain="eth", method="eth_sendRawTransaction",
                        outcome="ok") >= 1, "a WebSocket call is routed and counted like an HTTP one"


# --- calls ----------------------------------------------------------------------------------------

def test_calls_batches_and_subscriptions_get_json_rpc_answers(gw):
    async def go():
        async with websockets.connect(ws_url(gw)) as ws:
            await ws.send(json.dumps(body("eth_chainId", id=1)))
            assert json.loads(await ws.recv()) == {"jsonrpc": "2.0", "id": 1, "result": "0x1"}
            await ws.send(json.dumps([body("eth_chainId", id="a"), body("net_version", id=2),
                                      body("eth_chainId", id=...)]))
            replies = json.loads(await ws.recv())
            assert [r["id"] for r in replies] == ["a", 2], "a batch in order, the notification unanswered"
            assert replies[1]["result"] == "1"
            await ws.send(json.dumps([body("eth_subscribe", ["newHeads"], id=3)]))
            sub = json.loads(await ws.recv())[0]
            assert sub["id"] == 3 and sub["error"]["code"] == -32601, sub
            assert "not in a batch" in sub["error"]["message"], "subscriptions are messages of their own"
            await ws.send(json.dumps(body("eth_subscribe", ["newHeads"], id=33)))
            sub = json.loads(await ws.recv())
            assert sub["id"] == 33 and sub["result"].startswith("0x"), sub
            await ws.send("{not json")
            assert json.loads(await ws.recv())["error"]["code"] == -32700
            await ws.send(json.dumps(body("admin_peers", id=4)))
            assert json.loads(await ws.recv())["error"]["code"] == -32601, "the chain's method policy applies"
    run(go())


def test_concurrent_calls_are_answered_as_they_complete(gw, proxy):
    """A slow call first, then a fast one, on one connection: the fast one is not held behind it."""
    async def go():
        async with websockets.connect(ws_url(gw, "/slow")) as ws:
            await ws.send(json.dumps(body(SLOW_METHOD, [DEV_ADDR, "0x0", "latest"], id="slow")))
            await ws.send(json.dumps(body("eth_chainId", id="fast")))
            first = json.loads(await ws.recv())
            second = json.loads(await ws.recv())
            return first, second
    first, second = run(go())
    assert first["id"] == "fast" and first["result"] == "0x1", first
    assert second["id"] == "slow" and second["result"] == "0x" + "00" * 32, second


def test_a_fragmented_message_is_reassembled_and_ping_is_answered(gw):
    async def go():
        async with websockets.connect(ws_url(gw)) as ws:
            text = json.dumps(body("eth_chainId", id=9))
            await ws.send(iter([text[:5], text[5:17], text[17:]]))  # a text frame and two continuations
            assert json.loads(await ws.recv())["result"] == "0x1"
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 10)
    run(go())
    # The same with raw frames: a ping between two fragments is answered in the middle of the message.
    s = raw_connect(gw)
    try:
        text = json.dumps(body("net_version", id=10)).encode()
        s.sendall(frame(text[:10], opcode=1, fin=False) + frame(b"mid", opcode=9) + frame(text[10:], opcode=0))
        assert read_frame(s) == (0xA, b"mid"), "pong with the ping's payload"
        op, payload = read_frame(s)
        assert op == 1 and json.loads(payload) == {"jsonrpc": "2.0", "id": 10, "result": "1"}
        s.sendall(frame(struct.pack("!H", 1000) + b"bye", opcode=8))
        op, payload = read_frame(s)
        assert op == 8 and struct.unpack("!H", payload[:2])[0] == 1000, "the close handshake is answered"
        assert s.recv(1) == b"", "and the server closes the TCP connection"
    finally:
        s.close()


def test_broken_frames_are_closed_with_the_protocol_code_and_the_gateway_serves_on(gw):
    cases = [
        (bytes([0x81, 0x02]) + b"{}", 1002, "an unmasked client frame"),
        (frame(b"x", opcode=3), 1002, "a reserved opcode"),
        (frame(b"p" * 126, opcode=9), 1002, "a control frame over 125 bytes"),
        (frame(b"x", opcode=0), 1002, "a continuation with nothing to continue"),
        (frame(b'{"id":1,"method":"' + bytes([0xFF, 0xFE]) + b'"}'), 1007, "invalid UTF-8 in a text frame"),
    ]
    for data, code, what in cases:
        s = raw_connect(gw)
        try:
            s.sendall(data)
            op, payload = read_frame(s)
            assert op == 8 and struct.unpack("!H", payload[:2])[0] == code, (what, op, payload)
        finally:
            s.close()

    async def go():
        async with websockets.connect(ws_url(gw)) as ws:
            await ws.send(json.dumps(body("eth_chainId", id=1)))
            return json.loads(await ws.recv())
    assert run(go())["result"] == "0x1"


def test_a_message_over_max_message_is_closed_with_1009(gw):
    before = metric_value(gw.metrics(), "nodeops_gateway_websocket_forced_closes_total", reason="message_too_big")

    async def go():
        async with websockets.connect(ws_url(gw), max_size=None) as ws:
            await ws.send(json.dumps(body("eth_chainId", [("x" * 70000)], id=1)))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            return closed.value
    closed = run(go())
    assert closed.code == 1009, closed
    after = metric_value(gw.metrics(), "nodeops_gateway_websocket_forced_closes_total", reason="message_too_big")
    assert after == before + 1


def test_the_close_handshake_frees_the_connection(gw):
    wait_until("no open WebSocket", lambda: connections(gw) == 0)

    async def go():
        ws = await websockets.connect(ws_url(gw))
        await ws.send(json.dumps(body("eth_chainId", id=1)))
        await ws.recv()
        assert connections(gw) == 1
        await ws.close(1000, "done")
        return ws.close_code
    assert run(go()) == 1000
    wait_until("the connection gone", lambda: connections(gw) == 0)


def test_a_client_that_never_reads_is_closed_with_1008_and_memory_stays_bounded(gw, node):
    """Each call's reply is 32 KiB; the client asks 1500 of them (48 MiB) and reads nothing. The
    gateway queues at most max_send_queue (256 KiB) behind the kernel's buffers, then closes the
    client as a slow consumer; what the client reads afterwards ends with close 1008."""
    tx = node.rpc("eth_sendTransaction", [{"from": DEV_ADDR, "data": BIG_RETURN_INIT}])["result"]
    receipt = wait_until("contract", lambda: node.rpc("eth_getTransactionReceipt", [tx])["result"])
    contract = receipt["contractAddress"]
    pid = gw.proc.pid
    rss_before = rss_kib(pid)
    closes_before = metric_value(gw.metrics(), "nodeops_gateway_websocket_forced_closes_total",
                                 reason="slow_consumer")
    s = raw_connect(gw, rcvbuf=4096)
    try:
        call = lambda i: frame(json.dumps(body("eth_call", [{"to": contract}, "latest"], id=i)).encode())  # noqa: E731
        for i in range(1500):
            s.sendall(call(i))
        wait_until("a slow-consumer close", lambda: metric_value(
            gw.metrics(), "nodeops_gateway_websocket_forced_closes_total", reason="slow_consumer") == closes_before + 1,
            timeout=60)
        m = gw.metrics()
        queued = metric_value(m, "nodeops_gateway_websocket_queued_bytes")
        assert queued <= 40 * 1024, f"the outbox is dropped at the close; {queued} bytes left (the frame in the socket)"
        grew_mib = (rss_kib(pid) - rss_before) / 1024
        assert grew_mib < 24, f"gateway RSS grew {grew_mib:.1f} MiB for a client that reads nothing"
        # The client reads again: the complete replies the kernel held, then the close frame.
        s.settimeout(30)
        replies = 0
        while True:
            op, payload = read_frame(s)
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0]
                break
            if op == 1:
                replies += 1
        assert code == 1008, (code, payload)
        assert b"slow consumer" in payload
        # Whether a whole reply got into the kernel's buffers before the queue overflowed depends on
        # scheduling (none, on a busy machine); never all of them.
        assert replies < 1500
    finally:
        s.close()
    wait_until("the connection gone", lambda: connections(gw) == 0)
    assert metric_value(gw.metrics(), "nodeops_gateway_websocket_queued_bytes") == 0
    # The replies' bytes were counted in the process budget while they waited, and given back.
    wait_until("reply bytes given back", lambda: metric_value(gw.metrics(), "nodeops_gateway_buffered_reply_bytes") == 0)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- limits on the upgrade ------------------------------------------------------------------------

def test_connections_per_client_address_are_capped(gw):
    wait_until("no open WebSocket", lambda: connections(gw) == 0)
    before = metric_value(gw.metrics(), "nodeops_gateway_websocket_upgrades_refused_total", reason="per_ip_limit")

    async def go():
        held = [await websockets.connect(ws_url(gw)) for _ in range(3)]
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            await websockets.connect(ws_url(gw))
        await held[0].close()
        await asyncio.sleep(0)
        for _ in range(100):  # the slot comes back once the server has seen the close
            try:
                again = await websockets.connect(ws_url(gw))
                break
            except websockets.InvalidStatusCode:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the slot never came back")
        await again.send(json.dumps(body("eth_chainId", id=1)))
        assert json.loads(await again.recv())["result"] == "0x1"
        for ws in (again, *held[1:]):
            await ws.close()
        return refused.value.status_code
    assert run(go()) == 429
    after = metric_value(gw.metrics(), "nodeops_gateway_websocket_upgrades_refused_total", reason="per_ip_limit")
    assert after >= before + 1


def test_a_bad_handshake_is_refused_with_the_reason(gw):
    host, port = gw.listen.split(":")
    for extra, status in (("Sec-WebSocket-Version: 8\r\n", 426), ("Sec-WebSocket-Version: 13\r\n", 400)):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            key = "" if status == 400 else "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            s.sendall(f"GET /eth HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{key}{extra}\r\n"
                      .encode())
            answer = s.recv(4096)
        assert answer.startswith(f"HTTP/1.1 {status}".encode()), answer
        if status == 426:
            assert b"Sec-WebSocket-Version: 13" in answer
    assert metric_value(gw.metrics(), "nodeops_gateway_websocket_upgrades_refused_total", reason="bad_handshake") >= 2
    # An unknown chain is a 404, as for a POST.
    async def go():
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            await websockets.connect(ws_url(gw, "/nochain"))
        return refused.value.status_code
    assert run(go()) == 404


def test_the_api_key_is_required_on_the_upgrade(gw_auth):
    async def go():
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            await websockets.connect(ws_url(gw_auth))
        assert refused.value.status_code == 401
        with pytest.raises(websockets.InvalidStatusCode) as wrong:
            await websockets.connect(ws_url(gw_auth), extra_headers={"Authorization": "Bearer nope"})
        assert wrong.value.status_code == 401
        for url, headers in ((ws_url(gw_auth), {"Authorization": f"Bearer {KEY}"}),
                             (ws_url(gw_auth), {"X-API-Key": KEY}),
                             (ws_url(gw_auth, f"/eth/{KEY}"), {})):
            async with websockets.connect(url, extra_headers=headers) as ws:
                await ws.send(json.dumps(body("eth_chainId", id=1)))
                assert json.loads(await ws.recv())["result"] == "0x1"
    run(go())
    m = gw_auth.metrics()
    assert metric_value(m, "nodeops_gateway_websocket_upgrades_refused_total", reason="unauthorized") == 2
    assert metric_value(m, "nodeops_gateway_client_requests_total", key="wsclient") >= 6, "upgrades and messages"


def test_each_message_is_charged_to_the_keys_rate_limit(gw_auth):
    """Key `tight` may make 2 calls: the upgrade takes none, the first two messages pass, the third
    is answered -32005 call by call (ids kept) on the same open connection."""
    async def go():
        async with websockets.connect(ws_url(gw_auth, f"/eth/{TIGHT_KEY}")) as ws:
            replies = []
            for i in range(3):
                await ws.send(json.dumps(body("eth_chainId", id=i)))
                replies.append(json.loads(await ws.recv()))
            await ws.send(json.dumps([body("eth_chainId", id="a"), body("net_version", id="b")]))
            replies.append(json.loads(await ws.recv()))
            return replies
    replies = run(go())
    assert [r.get("result") for r in replies[:2]] == ["0x1", "0x1"], replies
    assert replies[2]["id"] == 2 and replies[2]["error"]["code"] == -32005, replies[2]
    assert [(r["id"], r["error"]["code"]) for r in replies[3]] == [("a", -32005), ("b", -32005)]
    assert metric_value(gw_auth.metrics(), "nodeops_gateway_client_rejections_total", key="tight",
                        reason="rate_limited") == 2


# --- keepalive, idle, drain -----------------------------------------------------------------------

def test_a_silent_client_is_pinged_then_dropped_and_an_idle_one_closed(node, proxy):
    cfg = ws_config(node, proxy, websocket="{ ping_interval: 300ms, idle_timeout: 1s }")
    with Nodeops.gateway(cfg) as g:
        s = raw_connect(g)
        try:
            op, payload = read_frame(s)
            assert op == 9, "a ping after ping_interval of silence (what keeps an ALB from idling out)"
            s.settimeout(20)
            assert s.recv(1) == b"", "a client that answers no ping is dropped"
        finally:
            s.close()

        async def go():
            async with websockets.connect(ws_url(g)) as ws:  # answers pings by itself
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                return closed.value
        closed = run(go())
        assert closed.code == 1000 and closed.reason == "idle timeout", closed


def test_drain_answers_the_call_in_flight_then_closes_with_1001(node, proxy):
    cfg = ws_config(node, proxy, limits={"drain_timeout": "20s"})
    g = Nodeops.gateway(cfg)
    try:
        async def go():
            async with websockets.connect(ws_url(g, "/slow")) as ws:
                seen = proxy.seen_slow
                await ws.send(json.dumps(body(SLOW_METHOD, [DEV_ADDR, "0x0", "latest"], id="inflight")))
                while proxy.seen_slow == seen:
                    await asyncio.sleep(0.02)
                g.signal(signal.SIGTERM)
                reply = json.loads(await ws.recv())
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                return reply, closed.value
        reply, closed = run(go())
        assert reply["id"] == "inflight" and reply["result"] == "0x" + "00" * 32, reply
        assert closed.code == 1001, closed
        g.proc.wait(30)
        assert g.proc.returncode == 0, g.log()[-2000:]
    finally:
        g.stop()
