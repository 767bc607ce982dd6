"""An upstream that misbehaves on purpose, the way real nodes, providers and middleboxes do.

It speaks raw HTTP/1.1 on a loopback port and forwards every request to a real node (`backend`,
an anvil), then breaks the answer with one `fault`. `scope` says what is broken: "probe" (the
health probe: a JSON-RPC batch), "calls" (single proxied calls) or "both"; the rest is forwarded
honestly, so a probe-scope fault is seen only by health checks and a call-scope fault only by
passive health.

Faults on the JSON-RPC content (applied to every result of the answer):
    result_empty_object  {}          result_null      null         result_number  12345
    result_huge_hex      "0x1" + 70 zeros (over 2^256)             result_negative  "-0x1"
    result_empty_string  ""          missing_result   no result member   other_id  another id
    deep_nesting         a result nested 100 000 arrays deep        invalid_utf8  bytes 0xff 0xfe
Faults on the HTTP exchange:
    huge          a 65 MiB answer            truncated      Content-Length 4096, 10 bytes, close
    drip          1 byte per second          no_answer      reads the request, never answers
    reset         half the answer, then a TCP reset          html   HTTP 200 with an HTML page
    broken_chunked  chunked with a size line that is not hex    storm_1xx  1 000 "100 Continue" heads
    redirect      302 to another host        flapping       good and result_empty_object, every second
Faults on batches of calls (the gateway's upstream batching; single calls and probes are honest):
    batch_refused   a batch answered with one JSON-RPC error object, as providers without batches do
    batch_partial   the last element of every batch reply left out
    batch_reversed  batch replies in reverse order (valid JSON-RPC: order is not guaranteed)
And `none`: every answer honest (a recording proxy).

Counters: `probes`, `calls` (requests received of each kind); `batches` lists the methods of every
batch of calls received (not probes), `singles` the method of every single call.
"""
from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import time
import urllib.request

CONTENT_FAULTS = ("result_empty_object", "result_null", "result_number", "result_huge_hex", "result_negative",
                  "result_empty_string", "missing_result", "other_id", "deep_nesting", "invalid_utf8")
HTTP_FAULTS = ("huge", "truncated", "drip", "no_answer", "reset", "html", "broken_chunked", "storm_1xx", "redirect",
               "flapping")
FAULTS = CONTENT_FAULTS + HTTP_FAULTS
# Only batches of calls see these (test_upstream_batching.py); "none" forwards everything honestly.
BATCH_FAULTS = ("batch_refused", "batch_partial", "batch_reversed")
# The gateway's health probe is a batch with these methods; client batches are told apart by them.
PROBE_METHODS = {"eth_syncing", "net_peerCount", "web3_clientVersion"}
# Faults that make a client wait (drip, no_answer): a test bounds them with the upstream timeout.
SLOW_FAULTS = ("drip", "no_answer")


def _mangle_item(item: dict, fault: str) -> dict:
    if not isinstance(item, dict):
        return item
    item = dict(item)
    if fault == "result_empty_object":
        item["result"] = {}
    elif fault == "result_null":
        item["result"] = None
    elif fault == "result_number":
        item["result"] = 12345
    elif fault == "result_huge_hex":
        item["result"] = "0x1" + "0" * 70
    elif fault == "result_negative":
        item["result"] = "-0x1"
    elif fault == "result_empty_string":
        item["result"] = ""
    elif fault == "missing_result":
        item.pop("result", None)
    elif fault == "other_id":
        item["id"] = (item.get("id") or 0) + 1000 if isinstance(item.get("id"), int) else 424242
    return item


def mangle(body: bytes, fault: str) -> bytes:
    """The backend's JSON-RPC answer with `fault` applied to every result."""
    if fault == "deep_nesting":
        return b'{"jsonrpc":"2.0","id":1,"result":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    if fault == "invalid_utf8":
        doc = json.loads(body)
        items = doc if isinstance(doc, list) else [doc]
        out = []
        for it in items:
            out.append(b'{"jsonrpc":"2.0","id":' + json.dumps(it.get("id")).encode() + b',"result":"\xff\xfe\xfd"}')
        return b"[" + b",".join(out) + b"]" if isinstance(doc, list) else out[0]
    doc = json.loads(body)
    if isinstance(doc, list):
        return json.dumps([_mangle_item(i, fault) for i in doc]).encode()
    return json.dumps(_mangle_item(doc, fault)).encode()


class FaultUpstream:
    def __init__(self, backend: str, fault: str, scope: str = "both"):
        if fault not in FAULTS + BATCH_FAULTS + ("none",):
            raise ValueError(f"unknown fault {fault}")
        if scope not in ("probe", "calls", "both"):
            raise ValueError(f"unknown scope {scope}")
        self.backend, self.fault, self.scope = backend, fault, scope
        self.probes = self.calls = 0
        self.batches: list[list[str]] = []
        self.singles: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        upstream = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                upstream._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # the gateway hangs up on what it refuses: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- one connection, keep-alive -------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(30)
        buf = b""
        while not self._stop.is_set():
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(buf) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            body, buf = buf[:length], buf[length:]
            if not self._answer(sock, body):
                return

    def _answer(self, sock: socket.socket, body: bytes) -> bool:
        """Answers one request; False when the connection must end."""
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        methods = [c.get("method") for c in doc if isinstance(c, dict)] if isinstance(doc, list) else []
        probe = PROBE_METHODS <= set(methods)
        batch = isinstance(doc, list) and not probe
        with self._lock:
            if probe:
                self.probes += 1
            else:
                self.calls += 1
            if batch:
                self.batches.append(methods)
            elif isinstance(doc, dict):
                self.singles.append(doc.get("method"))
        req = urllib.request.Request(self.backend, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            honest = r.read()
        broken = self.scope == "both" or (self.scope == "probe") == probe
        fault = self.fault
        if fault == "flapping":
            fault = "result_empty_object" if int(time.monotonic()) % 2 else "none"
        if fault in BATCH_FAULTS and not batch:
            fault = "none"
        if not broken or fault == "none":
            sock.sendall(_response(200, "application/json", honest))
            return True
        if fault == "batch_refused":
            refusal = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch requests are not supported"}}'
            sock.sendall(_response(200, "application/json", refusal))
            return True
        if fault in ("batch_partial", "batch_reversed"):
            items = json.loads(honest)
            items = items[:-1] if fault == "batch_partial" else items[::-1]
            sock.sendall(_response(200, "application/json", json.dumps(items, separators=(",", ":")).encode()))
            return True
        if fault in CONTENT_FAULTS:
            sock.sendall(_response(200, "application/json", mangle(honest, fault)))
            return True
        if fault == "huge":
            payload = b'{"jsonrpc":"2.0","id":1,"result":"' + b"a" * (65 << 20) + b'"}'
            sock.sendall(_response(200, "application/json", payload))
            return True
        if fault == "truncated":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
                         b'{"jsonrpc"')
            return False
        if fault == "drip":
            for byte in _response(200, "application/json", honest):
                if self._stop.wait(1.0):
                    return False
                sock.sendall(bytes([byte]))
            return True
        if fault == "no_answer":
            sock.settimeout(1)
            while not self._stop.is_set():  # until the peer hangs up
                try:
                    if not sock.recv(1024):
                        return False
                except socket.timeout:
                    continue
                except OSError:
                    return False
            return False
        if fault == "reset":
            raw = _response(200, "application/json", honest)
            sock.sendall(raw[: len(raw) // 2])
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if fault == "html":
            sock.sendall(_response(200, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"))
            return True
        if fault == "broken_chunked":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"zz\r\n" + honest + b"\r\n0\r\n\r\n")
            return False
        if fault == "storm_1xx":
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 1000 + _response(200, "application/json", honest))
            return True
        if fault == "redirect":
            sock.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://example.invalid/\r\nContent-Length: 0\r\n\r\n")
            return True
        raise AssertionError(fault)


def _response(status: int, ctype: str, body: bytes) -> bytes:
    reason = {200: "OK", 302: "Found"}.get(status, "Status")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
