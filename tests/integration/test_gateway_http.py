"""`nodeops gateway` speaking HTTP/1.1 over raw sockets, both ways: to clients (pipelining,
`Expect: 100-continue`, chunked request bodies, the request-smuggling and size refusals, HTTP/1.0
keep-alive) and to upstreams (chunked answers, answers that run until close, interim 1xx answers),
against a real anvil. Every socket read has a timeout.

Run: PYTHONPATH=tests/support NODEOPS_BIN=build/release/nodeops python3 -m pytest tests/integration/test_gateway_http.py
"""
from __future__ import annotations

import json
import socket
import time

import pytest

from gateway_util import body, post, raw_http, raw_member, require_binaries, status_code_of
from harness import Anvil, Nodeops, gateway_config
from lying_upstream import LyingUpstream

pytestmark = require_binaries()

TIMEOUT = 5.0  # seconds any single socket read may take
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@pytest.fixture(scope="module")
def node():
    with Anvil(chain_id=1) as a:
        yield a


@pytest.fixture(scope="module")
def gw(node):
    with Nodeops.gateway(gateway_config({"ethereum": (1, [("a", node.url)])})) as g:
        g.port = int(g.listen.rsplit(":", 1)[1])
        yield g


@pytest.fixture(autouse=True)
def still_serving(request):
    yield
    if "gw" in request.fixturenames:
        g = request.getfixturevalue("gw")
        g.assert_alive()
        assert post(g.url("/ethereum"), body("eth_chainId")).json()["result"] == "0x1"


class Client:
    """One raw connection to the gateway that reads whole HTTP/1.1 responses (Content-Length framed)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)  # socket.timeout after TIMEOUT: the test fails, it never hangs
        if not chunk:
            raise EOFError(f"connection closed; unread: {self.buf!r}")
        self.buf += chunk

    def read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, _ = (lines[0] + " ").split(" ", 2)
        assert version == "HTTP/1.1", lines[0]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status), headers, self.read_exactly(int(headers.get("content-length", "0")))

    def closed_by_peer(self) -> bool:
        """True when the gateway closes the connection (EOF or reset) before TIMEOUT."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def request(payload: dict | str, *, version: str = "1.1", fields: str = "") -> bytes:
    data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
    return (f"POST /ethereum HTTP/{version}\r\nHost: gw\r\nContent-Type: application/json\r\n{fields}"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def chunked(data: bytes, sizes: list[int]) -> bytes:
    out, rest = b"", data
    for i, size in enumerate(sizes):
        piece, rest = rest[:size], rest[size:]
        out += f"{len(piece):x}{';n=' + str(i) if i % 2 else ''}\r\n".encode() + piece + b"\r\n"
    assert not rest
    return out + b"0\r\nX-Trailer: 1\r\n\r\n"


# --- client side -------------------------------------------------------------------------------------


def test_two_pipelined_requests_in_one_send_get_two_answers_in_order(gw):
    with Client(gw.port) as c:
        c.send(request(body("eth_chainId", id="first")) + request(body("eth_blockNumber", id="second")))
        s1, _, b1 = c.read_response()
        s2, _, b2 = c.read_response()
        assert (s1, s2) == (200, 200)
        assert json.loads(b1) == {"jsonrpc": "2.0", "id": "first", "result": "0x1"}
        assert json.loads(b2)["id"] == "second" and json.loads(b2)["result"].startswith("0x")
        # And the connection is still usable for a third.
        c.send(request(body("eth_chainId", id="third")))
        assert json.loads(c.read_response()[2])["id"] == "third"


def test_three_pipelined_requests_split_mid_request_are_all_answered(gw):
    data = b"".join(request(body("eth_chainId", id=i)) for i in range(3))
    with Client(gw.port) as c:
        cut = len(data) // 2 + 7  # in the middle of the second request
        c.send(data[:cut])
        time.sleep(0.05)
        c.send(data[cut:])
        assert [json.loads(c.read_response()[2])["id"] for _ in range(3)] == [0, 1, 2]


def test_expect_100_continue_gets_100_then_the_answer(gw):
    payload = json.dumps(body("eth_chainId", id="expect")).encode()
    head = request(payload.decode(), fields="Expect: 100-continue\r\n")[:-len(payload)]
    with Client(gw.port) as c:
        c.send(head)
        # The body is only sent once the gateway says so: without "100 Continue" this read times out.
        assert c.read_exactly(len(CONTINUE)) == CONTINUE
        c.send(payload)
        status, _, b = c.read_response()
        assert status == 200 and json.loads(b) == {"jsonrpc": "2.0", "id": "expect", "result": "0x1"}
        # A request without Expect gets no 100 Continue.
        c.send(request(body("eth_chainId", id="plain")))
        status, _, b = c.read_response()
        assert status == 200 and json.loads(b)["id"] == "plain"


def test_chunked_request_body_is_accepted_and_answered(gw):
    payload = json.dumps(body("eth_chainId", id="chunked")).encode()
    encoded = chunked(payload, [1, 10, len(payload) - 11])
    head = b"POST /ethereum HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    with Client(gw.port) as c:
        c.send(head + encoded[:9])  # the body arrives in two reads, cut inside a chunk
        time.sleep(0.05)
        c.send(encoded[9:])
        status, _, b = c.read_response()
        assert status == 200
        assert json.loads(b) == {"jsonrpc": "2.0", "id": "chunked", "result": "0x1"}


def test_content_length_with_transfer_encoding_is_400_and_closes(gw):
    # The classic CL.TE smuggle: a front end that believes Content-Length would forward the GET as
    # part of this body; one that believes chunked would see a second request. Refuse both readings.
    smuggled = b"GET /nosuchchain HTTP/1.1\r\nHost: gw\r\n\r\n"
    chunk_body = b"0\r\n\r\n" + smuggled
    data = (b"POST /ethereum HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(chunk_body)).encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk_body)
    with Client(gw.port) as c:
        c.send(data)
        status, headers, _ = c.read_response()
        assert status == 400
        assert headers.get("connection") == "close"
        assert c.closed_by_peer(), "the connection must not stay open for the smuggled request"
        assert b"HTTP/1.1" not in c.buf, c.buf


@pytest.mark.parametrize("fields", [
    "Content-Length: 5\r\nContent-Length: 6\r\n",
    "Content-Length: 1,1\r\n",
    "Content-Length: +5\r\n",
    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    "Host : gw\r\n",
    "X-Folded: a\r\n b\r\n",
])
def test_other_smuggling_shapes_are_400(gw, fields):
    raw, _ = raw_http(gw.port, b"POST /ethereum HTTP/1.1\r\nHost: gw\r\n" + fields.encode() + b"\r\nhello!",
                      read_timeout=TIMEOUT)
    assert status_code_of(raw) == 400, raw


def test_transfer_encoding_gzip_is_501(gw):
    data = (b"POST /ethereum HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: gzip\r\n\r\n\x1f\x8b")
    raw, _ = raw_http(gw.port, data, read_timeout=TIMEOUT)
    assert status_code_of(raw) == 501, raw


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_client_still_sending_a_refused_body_reads_its_413(gw, framing):
    # The gateway answers 413 after the first MiB, while this client goes on sending 8 MiB. Without a
    # lingering close, the bytes that arrive after the close are answered with a reset that can wipe
    # out the 413 (or break the client's send) before the client reads it.
    total, piece = 8 << 20, b"x" * 65536
    head = b"POST /ethereum HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n" if framing == "chunked" else b"Content-Length: %d\r\n\r\n" % total
    with Client(gw.port) as c:
        c.send(head)
        for _ in range(total // len(piece)):
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece) if framing == "chunked" else piece)
        status, headers, b = c.read_response()
    assert status == 413, (status, b)
    assert headers.get("connection", "").lower() == "close"
    assert json.loads(b)["error"]["code"] == -32600


def test_20_kib_header_is_431_and_12_kib_is_served(gw):
    def with_pad(n: int) -> bytes:
        return request(body("eth_chainId", id="pad"), fields=f"X-Pad: {'a' * n}\r\n")

    raw, _ = raw_http(gw.port, with_pad(20 * 1024), read_timeout=TIMEOUT)
    assert status_code_of(raw) == 431, raw[:200]
    # The limit is about the head's size, not about custom headers: a large one below it is fine.
    with Client(gw.port) as c:
        c.send(with_pad(12 * 1024))
        status, _, b = c.read_response()
        assert status == 200 and json.loads(b)["result"] == "0x1"


def test_http_1_0_gets_keep_alive_only_if_it_asks(gw):
    with Client(gw.port) as c:
        c.send(request(body("eth_chainId", id=10), version="1.0"))
        status, headers, b = c.read_response()
        assert status == 200 and json.loads(b)["id"] == 10
        assert headers.get("connection", "").lower() == "close"
        assert c.closed_by_peer(), "an HTTP/1.0 connection without keep-alive ends after one answer"
    with Client(gw.port) as c:
        c.send(request(body("eth_chainId", id=11), version="1.0", fields="Connection: keep-alive\r\n"))
        status, headers, b = c.read_response()
        assert status == 200 and json.loads(b)["id"] == 11
        assert headers.get("connection", "").lower() == "keep-alive"
        c.send(request(body("eth_chainId", id=12), version="1.0", fields="Connection: Keep-Alive\r\n"))
        assert json.loads(c.read_response()[2])["id"] == 12, "the kept-alive connection serves a second request"
    with Client(gw.port) as c:
        # HTTP/1.1 is persistent by default and says nothing about it.
        c.send(request(body("eth_chainId", id=13)))
        status, headers, _ = c.read_response()
        assert status == 200 and "connection" not in headers


# --- upstream side -----------------------------------------------------------------------------------

BLOCK_0 = ("eth_getBlockByNumber", ["0x0", True])


@pytest.mark.parametrize("framing", ["chunked", "until_close", "interim"])
def test_upstream_framings_give_the_upstreams_result_byte_for_byte(node, framing):
    direct = post(node.url, body(*BLOCK_0, id=1)).text
    want = raw_member(direct, "result")
    assert len(want) > 200  # several chunks, two writes
    with LyingUpstream(node.url, mode="proxy", framing=framing) as up:
        # The only upstream: a framing the gateway cannot read is an error, not a retry elsewhere.
        with Nodeops.gateway(gateway_config({"ethereum": (1, [("framed", up.url)])})) as g:
            for i in range(3):  # the same pooled connection again (or a new one after a close)
                via = post(g.url("/ethereum"), body(*BLOCK_0, id=f"c{i}")).text
                assert raw_member(via, "id") == f'"c{i}"', via
                assert raw_member(via, "result") == want
            assert up.framed == 3
            assert post(g.url("/ethereum"), body("eth_chainId")).json()["result"] == "0x1"
