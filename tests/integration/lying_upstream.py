"""A tiny upstream that lies, for the gateway's integration tests.

It answers the gateway's health probe (a JSON-RPC batch) by forwarding it to a real node (`backend`,
an anvil), so the gateway believes it is healthy and sends it traffic, and answers single calls
according to `mode`:

    proxy        forward to the backend (an honest upstream, used with `delay`)
    html         HTTP 200 with an HTML page
    garbage      HTTP 200 with bytes that are not JSON
    empty        HTTP 200 with an empty body
    wrong_id     a well-formed JSON-RPC result under another id
    no_result    a JSON-RPC object with neither result nor error
    http_500     HTTP 500 with a JSON-RPC-looking body
    http_429     HTTP 429
    close        closes the connection without answering
    state_error  {"error": {"code": -32000, "message": "missing trie node ..."}} under the right id
    deaf_to_txs  refuses eth_sendRawTransaction ("txpool is full"), forwards every other call: a
                 node that has not received a transaction yet

`delay` (seconds) is slept before answering a single call (never a probe). `absurd_head` makes the
probe report eth_blockNumber 0xffffffffff. Counters: `calls` (calls received, alone or in a batch of
calls: each is answered by `mode`), `probes`.

`framing` says how the answer to a single call goes on the wire (probes always use Content-Length),
each part in its own write so the gateway reads it in pieces:

    length       Content-Length (the default)
    chunked      Transfer-Encoding: chunked, chunks of odd sizes, a chunk extension and a trailer
    until_close  neither Content-Length nor chunked: the body ends when the connection closes
    interim      "100 Continue" and "103 Early Hints" first, then the answer with Content-Length

Counter: `framed` (answers sent with a framing other than `length`).
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

ABSURD_HEAD = "0xffffffffff"
LIE = "0xbadbadbad"  # the value a lying reply carries; it must never reach a client
FRAMINGS = ("length", "chunked", "until_close", "interim")
# The gateway's health probe is a batch with these methods; other batches are batched calls.
PROBE_METHODS = {"eth_syncing", "net_peerCount", "web3_clientVersion"}
PART_GAP = 0.02  # seconds between the writes of a framed answer, so they arrive as separate reads


class LyingUpstream:
    def __init__(self, backend: str, mode: str = "proxy", delay: float = 0.0, absurd_head: bool = False,
                 framing: str = "length"):
        if framing not in FRAMINGS:
            raise ValueError(f"unknown framing {framing}")
        self.backend = backend
        self.mode = mode
        self.delay = delay
        self.absurd_head = absurd_head
        self.framing = framing
        self.calls = 0
        self.probes = 0
        self.framed = 0
        self._lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _count(self, attr: str) -> None:
        with self._lock:
            setattr(self, attr, getattr(self, attr) + 1)

    def answer(self, body: bytes) -> tuple[int, str, bytes | None]:
        """(status, content type, body); body None = close the connection without answering."""
        try:
            request = json.loads(body)
        except ValueError:
            return 400, "text/plain", b"bad request"
        if isinstance(request, list) and PROBE_METHODS <= {c.get("method") for c in request if isinstance(c, dict)}:
            self._count("probes")
            replies = requests.post(self.backend, data=body, headers={"Content-Type": "application/json"},
                                    timeout=5).json()
            if self.absurd_head:
                for r in replies:
                    if r.get("id") == 3:
                        r["result"] = ABSURD_HEAD
            return 200, "application/json", json.dumps(replies).encode()
        if self.delay:
            threading.Event().wait(self.delay)
        if isinstance(request, list):
            return self._answer_batch(request)
        self._count("calls")
        return self._answer_call(request, body)

    def _answer_batch(self, calls: list) -> tuple[int, str, bytes | None]:
        """A batch of calls (the gateway's upstream batching) gets each call's lie; a lie about the
        exchange itself (HTML, a 500, a closed connection...) is told about the whole batch."""
        replies = []
        for call in calls:
            self._count("calls")
            status, ctype, payload = self._answer_call(call, json.dumps(call).encode())
            try:
                item = json.loads(payload) if status == 200 and payload else None
            except ValueError:
                item = None
            if not isinstance(item, dict):
                return status, ctype, payload
            replies.append(item)
        return 200, "application/json", json.dumps(replies).encode()

    def _answer_call(self, request, body: bytes) -> tuple[int, str, bytes | None]:
        rid = request.get("id")
        mode = self.mode
        if mode == "deaf_to_txs":
            if request.get("method") == "eth_sendRawTransaction":
                err = {"code": -32000, "message": "txpool is full"}
                return 200, "application/json", json.dumps({"jsonrpc": "2.0", "id": rid, "error": err}).encode()
            mode = "proxy"
        if mode == "proxy":
            r = requests.post(self.backend, data=body, headers={"Content-Type": "application/json"}, timeout=10)
            return r.status_code, "application/json", r.content
        if mode == "html":
            return 200, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        if mode == "garbage":
            return 200, "application/json", b"\x00\xffnot json {{{" + LIE.encode()
        if mode == "empty":
            return 200, "application/json", b""
        if mode == "wrong_id":
            other = rid + 1 if isinstance(rid, int) else 999999
            return 200, "application/json", json.dumps({"jsonrpc": "2.0", "id": other, "result": LIE}).encode()
        if mode == "no_result":
            return 200, "application/json", json.dumps({"jsonrpc": "2.0", "id": rid}).encode()
        if mode == "http_500":
            return 500, "application/json", json.dumps({"jsonrpc": "2.0", "id": rid, "result": LIE}).encode()
        if mode == "http_429":
            return 429, "application/json", json.dumps({"jsonrpc": "2.0", "id": rid, "result": LIE}).encode()
        if mode == "close":
            return 0, "", None
        if mode == "state_error":
            err = {"code": -32000, "message": "missing trie node 0x1234 (path ) state is not available"}
            return 200, "application/json", json.dumps({"jsonrpc": "2.0", "id": rid, "error": err}).encode()
        raise ValueError(f"unknown mode {mode}")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the gateway hangs up on slow answers (timeouts, draining): expected, not news


def _handler(upstream: LyingUpstream):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real node
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, ctype, payload = upstream.answer(body)
            if payload is None:
                self.close_connection = True
                return
            if upstream.framing != "length" and not body.lstrip().startswith(b"["):
                upstream._count("framed")
                self._send_framed(upstream.framing, status, ctype, payload)
                return
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _send_framed(self, framing: str, status: int, ctype: str, payload: bytes) -> None:
            head = f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\nContent-Type: {ctype}\r\n"
            parts: list[bytes] = []
            if framing == "chunked":
                parts.append((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
                sizes = [1, 7, 64]
                rest = payload
                for i, size in enumerate(sizes + [len(payload)]):
                    piece, rest = rest[:size], rest[size:]
                    if not piece:
                        break
                    ext = ";piece=" + str(i) if i == 1 else ""
                    parts.append(f"{len(piece):X}{ext}\r\n".encode() + piece + b"\r\n")
                parts.append(b"0\r\nX-Checksum: none\r\n\r\n")
            elif framing == "until_close":
                parts.append((head + "Connection: close\r\n\r\n").encode())
                half = len(payload) // 2
                parts += [payload[:half], payload[half:]]
                self.close_connection = True
            elif framing == "interim":
                parts.append(b"HTTP/1.1 100 Continue\r\n\r\n")
                parts.append(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
                parts.append((head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
            for i, part in enumerate(parts):
                if i:
                    time.sleep(PART_GAP)
                self.wfile.write(part)
                self.wfile.flush()

        def log_message(self, *args):  # quiet
            pass

    return Handler
