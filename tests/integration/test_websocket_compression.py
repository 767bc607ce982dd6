"""permessage-deflate (RFC 7692) on the gateway's WebSocket, against the real binary and a real anvil:
with `websocket.compression: on`, Debian's python3-websockets (which offers deflate by default)
negotiates it and large replies (a batch of blocks) and notifications (newHeads) arrive intact; on
the wire, with raw frames, a large reply is a compressed frame (RSV1) that inflates to the JSON and
is smaller than it, and a small one goes uncompressed; with compression off (the default) nothing
is negotiated; anything but off/on is a config error.

Run: NODEOPS_BIN=build/release/nodeops PYTHONPATH=tests/support:tests/integration \
     /usr/bin/python3 -m pytest tests/integration/test_websocket_compression.py
Needs: anvil (.tools), python3-websockets (Debian).
"""
from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import zlib

import pytest
import requests

from gateway_util import require_binaries
from harness import NODEOPS_BIN, Anvil, Nodeops, gateway_config, metric_value, rpc, wait_until
from test_gateway_websocket import frame, read_frame, recv_exact  # noqa: F401 - raw RFC 6455 helpers

websockets = pytest.importorskip("websockets")  # Debian python3-websockets (scripts/bootstrap.sh)

pytestmark = require_binaries()

BLOCKS = 40  # blocks mined on the node: a batch of them is a reply of tens of KiB


@pytest.fixture(scope="module")
def node():
    with Anvil(chain_id=1) as n:
        rpc(n.url, "anvil_mine", [hex(BLOCKS)])
        yield n


def gateway(node, compression: str | None):
    ws = "{ compression: %s }" % compression if compression else None
    extra = {"websocket": ws} if ws else {}
    return Nodeops.gateway(gateway_config({"eth": (1, [("a", node.url)])}, **extra))


def ws_url(g) -> str:
    return f"ws://{g.listen}/eth"


def batch(n: int) -> list[dict]:
    return [{"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(i), False]}
            for i in range(1, n + 1)]


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_compression_on_is_negotiated_and_large_replies_and_notifications_arrive_intact(node):
    direct = {r["id"]: r["result"] for r in rpc_batch(node.url, batch(BLOCKS))}
    with gateway(node, "on") as g:
        async def go():
            async with websockets.connect(ws_url(g), max_size=None) as ws:
                header = ws.response_headers.get("Sec-WebSocket-Extensions", "")
                assert header.startswith("permessage-deflate"), header
                assert [e.name for e in ws.extensions] == ["permessage-deflate"]
                await ws.send(json.dumps(batch(BLOCKS)))
                reply = json.loads(await ws.recv())
                assert len(json.dumps(reply)) > 20000, "a large reply"
                assert {r["id"]: r["result"] for r in reply} == direct, "every block as the node has it"
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                                          "params": ["newHeads"]}))
                sub = json.loads(await ws.recv())["result"]
                height = node.head()
                # The follower's first step starts at the head it finds: mine only after it.
                wait_until("the follower holds the head", lambda: metric_value(
                    g.metrics(), "nodeops_gateway_follower_head", chain="eth") == height, procs=[g])
                node.mine()
                note = json.loads(await ws.recv())
                assert note["params"]["subscription"] == sub
                head = note["params"]["result"]
                block = rpc(node.url, "eth_getBlockByNumber", [head["number"], False])["result"]
                assert int(head["number"], 16) == height + 1
                assert {k: v for k, v in block.items() if k in head} == head, "the header as the node has it"
        run(go())


def test_on_the_wire_a_large_reply_is_a_compressed_frame_and_a_small_one_is_not(node):
    with gateway(node, "on") as g:
        host, port = g.listen.split(":")
        s = socket.create_connection((host, int(port)), timeout=30)
        try:
            s.sendall(b"GET /eth HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                      b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(1)
                assert chunk, head
                head += chunk
            assert head.startswith(b"HTTP/1.1 101"), head
            assert b"sec-websocket-extensions: permessage-deflate" in head.lower(), head
            inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # one context for the connection (context takeover)

            def reply_to(payload: bytes) -> tuple[bool, int, bytes]:
                s.sendall(frame(payload))  # sent uncompressed (RSV1 clear): allowed under RFC 7692
                # A compressed message may come in several frames (Beast deflates into a 4 KiB
                # buffer): RSV1 on the first, continuations until FIN.
                data, first, fin = b"", None, False
                while not fin:
                    b0, b1 = recv_exact(s, 2)
                    n = b1 & 0x7F
                    if n == 126:
                        n = int.from_bytes(recv_exact(s, 2), "big")
                    elif n == 127:
                        n = int.from_bytes(recv_exact(s, 8), "big")
                    assert (b0 & 0x0F) == (1 if first is None else 0), "a text frame, then continuations"
                    first = b0 if first is None else first
                    fin = bool(b0 & 0x80)
                    data += recv_exact(s, n)
                compressed = bool(first & 0x40)
                text = inflate.decompress(data + b"\x00\x00\xff\xff") if compressed else data
                return compressed, len(data), text

            compressed, wire, text = reply_to(json.dumps(batch(BLOCKS)).encode())
            assert compressed, "a large reply is sent compressed"
            assert len(json.loads(text)) == BLOCKS
            assert wire < len(text) / 3, (wire, len(text))  # JSON of hex blocks compresses well
            compressed, wire, text = reply_to(b'{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}')
            assert not compressed, "a small reply is not worth compressing"
            assert json.loads(text) == {"jsonrpc": "2.0", "id": 7, "result": "0x1"}
        finally:
            s.close()


def test_compression_off_by_default_is_not_negotiated(node):
    with gateway(node, None) as g:
        async def go():
            async with websockets.connect(ws_url(g), max_size=None) as ws:
                assert "Sec-WebSocket-Extensions" not in ws.response_headers
                assert ws.extensions == []
                await ws.send(json.dumps(batch(BLOCKS)))
                assert len(json.loads(await ws.recv())) == BLOCKS
        run(go())
    with gateway(node, "off") as g:
        async def go_off():
            async with websockets.connect(ws_url(g)) as ws:
                assert ws.extensions == []
        run(go_off())


def test_a_compression_value_other_than_off_or_on_is_a_config_error(tmp_path):
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(gateway_config({"eth": (1, [("a", "http://127.0.0.1:1")])}, websocket="{ compression: gzip }"))
    out = subprocess.run([str(NODEOPS_BIN), "check-config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "compression" in out.stdout + out.stderr and "expected off or on" in out.stdout + out.stderr, out


def rpc_batch(url: str, calls: list[dict]) -> list[dict]:
    return requests.post(url, json=calls, timeout=30).json()
