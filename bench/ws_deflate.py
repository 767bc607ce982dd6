"""permessage-deflate on the gateway's WebSocket: bytes on the wire and gateway CPU per message, with
`websocket.compression` off and on, for two messages a subscriber gets:
  - a newHeads notification (a block header, ~1.2 KiB of JSON with its logs bloom), fanned out to
    SUBSCRIBERS raw-socket clients that offer "permessage-deflate; client_max_window_bits";
  - a large reply: a batch of BATCH eth_getBlockByNumber(n, true) of blocks holding transactions.
Bytes are the frames as read off the socket (headers and payloads); CPU is the gateway's
utime + stime from /proc over the phase, divided by the messages sent. Clients run in this process.
    /usr/bin/python3 bench/ws_deflate.py     env: SUBSCRIBERS [200], BLOCKS [20], BATCH [20], ROUNDS [200]
    (NODEOPS_BIN, ANVIL_BIN as for the tests)
"""
import json
import os
import pathlib
import socket
import struct
import sys
import time
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "support")]
from harness import Anvil, Nodeops, gateway_config, metric_value, wait_until  # noqa: E402

SUBSCRIBERS = int(os.environ.get("SUBSCRIBERS", 200))
BLOCKS = int(os.environ.get("BLOCKS", 20))
BATCH = int(os.environ.get("BATCH", 20))
ROUNDS = int(os.environ.get("ROUNDS", 200))
TICK = os.sysconf("SC_CLK_TCK")
DEV = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Client:
    def __init__(self, listen: str, deflate: bool):
        host, port = listen.split(":")
        self.s = socket.create_connection((host, int(port)), timeout=60)
        offer = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if deflate else b""
        self.s.sendall(b"GET /eth HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + offer + b"\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.s.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.negotiated = b"permessage-deflate" in head.lower()
        self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)

    def send(self, payload: bytes):
        n = len(payload)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                bytes([0x80 | 126]) + struct.pack("!H", n) if n < 65536 else
                                bytes([0x80 | 127]) + struct.pack("!Q", n))
        self.s.sendall(head + b"\0\0\0\0" + payload)  # a zero mask: the payload as is

    def exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out

    def recv(self) -> tuple[int, bytes]:
        """(bytes on the wire: frame headers and payloads, the message as JSON text). A compressed
        message may come in several frames (Beast deflates into a 4 KiB buffer)."""
        data, first, fin, wire = b"", None, False, 0
        while not fin:
            b0, b1 = self.exact(2)
            n = b1 & 0x7F
            wire += 2
            if n == 126:
                n = struct.unpack("!H", self.exact(2))[0]
                wire += 2
            elif n == 127:
                n = struct.unpack("!Q", self.exact(8))[0]
                wire += 8
            first = b0 if first is None else first
            fin = bool(b0 & 0x80)
            data += self.exact(n)
            wire += n
        text = self.inflate.decompress(data + b"\0\0\xff\xff") if first & 0x40 else data
        return wire, text


def run(node, compression: str) -> dict:
    cfg = gateway_config({"eth": (1, [("a", node.url)])}, threads=2, chain={"health_interval": "100ms"},
                         websocket=f"{{ compression: {compression}, max_connections_per_ip: 100000 }}")
    out = {"compression": compression}
    with Nodeops.gateway(cfg) as g:
        pid = g.proc.pid
        # --- newHeads notifications
        subs = [Client(g.listen, True) for _ in range(SUBSCRIBERS)]
        out["negotiated"] = all(c.negotiated for c in subs)
        for c in subs:
            c.send(b'{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}')
            c.recv()
        height = node.head()
        wait_until("follower", lambda: metric_value(g.metrics(), "nodeops_gateway_follower_head", chain="eth") == height)
        wire = plain = 0
        start = cpu_seconds(pid)
        for _ in range(BLOCKS):
            node.mine()
            for c in subs:
                n, text = c.recv()
                wire += n
                plain += len(text)
        cpu = cpu_seconds(pid) - start
        notes = BLOCKS * SUBSCRIBERS
        out["newHeads"] = {"notifications": notes, "json_bytes": round(plain / notes),
                           "wire_bytes": round(wire / notes), "gateway_cpu_us": round(cpu / notes * 1e6, 1)}
        for c in subs:
            c.s.close()
        # --- a large reply
        c = Client(g.listen, True)
        calls = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(i), True]}
                            for i in range(1, BATCH + 1)]).encode()
        wire = plain = complete = 0
        start = cpu_seconds(pid)
        for _ in range(ROUNDS):
            c.send(calls)
            n, text = c.recv()
            wire += n
            plain += len(text)
            complete += sum(1 for r in json.loads(text) if r.get("result")) == BATCH
        cpu = cpu_seconds(pid) - start
        out["batch_complete"] = complete  # replies with every block (others carry an error for some)
        out["batch_reply"] = {"replies": ROUNDS, "json_bytes": round(plain / ROUNDS), "wire_bytes": round(wire / ROUNDS),
                              "gateway_cpu_us": round(cpu / ROUNDS * 1e6, 1)}
        out["rss_kib"] = int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0].split()[1])
    return out


def main():
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; load before: {os.getloadavg()}")
    with Anvil(chain_id=1) as node:
        # Blocks with transactions in them, for the large reply (10 transfers each).
        node.rpc("evm_setAutomine", [False])
        for b in range(BATCH):
            for i in range(10):
                node.rpc("eth_sendTransaction", [{"from": DEV, "to": "0x" + f"{b * 10 + i + 1:040x}", "value": "0x1"}])
            node.mine()
        for compression in ("off", "on"):
            print(json.dumps(run(node, compression)))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
