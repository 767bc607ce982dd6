"""`nodeops gateway` against bad clients: every bad input gets its HTTP status and JSON-RPC error,
slow and truncated requests are cut off by `limits.read_timeout`, and the process stays up.

Run: PYTHONPATH=tests/support NODEOPS_BIN=build/release/nodeops python3 -m pytest tests/integration/test_gateway_bad_input.py
"""
import json

import pytest
import requests

from gateway_util import (DENIED_BY_DEFAULT, body, json_body_of, post, raw_http, require_binaries,
                          status_code_of)
from harness import Anvil, Nodeops, gateway_config

pytestmark = require_binaries()

MAX_BODY = 4096
MAX_BATCH = 5
READ_TIMEOUT = 1.0
IDLE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def gw():
    with Anvil(chain_id=1) as a:
        cfg = gateway_config({"ethereum": (1, [("a", a.url)])},
                             limits={"max_body": f"{MAX_BODY}", "max_batch": MAX_BATCH,
                                     "read_timeout": f"{int(READ_TIMEOUT * 1000)}ms",
                                     "idle_timeout": f"{int(IDLE_TIMEOUT * 1000)}ms"})
        with Nodeops.gateway(cfg) as g:
            g.port = int(g.listen.rsplit(":", 1)[1])
            yield g


@pytest.fixture(autouse=True)
def still_serving(gw):
    yield
    gw.assert_alive()
    assert post(gw.url("/ethereum"), body("eth_chainId")).json()["result"] == "0x1"


def test_oversized_body_is_413_with_a_json_error(gw):
    big = json.dumps(body("eth_getBalance", ["0x" + "ab" * MAX_BODY, "latest"]))
    r = post(gw.url("/ethereum"), big)
    assert r.status_code == 413
    assert r.headers["Content-Type"].startswith("application/json")
    err = r.json()
    assert err["jsonrpc"] == "2.0" and err["id"] is None and err["error"]["code"] == -32600
    # Just under the limit is served.
    pad = MAX_BODY - len(json.dumps(body("eth_chainId", id=""))) - 10
    assert post(gw.url("/ethereum"), body("eth_chainId", id="x" * pad)).json()["result"] == "0x1"


def test_much_larger_body_still_gets_its_413(gw):
    # The client is still sending when the server refuses: the answer must not be lost to a reset.
    big = json.dumps(body("eth_getBalance", ["0x" + "ab" * (1 << 20), "latest"]))
    r = post(gw.url("/ethereum"), big)
    assert r.status_code == 413 and r.json()["error"]["code"] == -32600


def test_oversized_body_announced_in_headers_is_refused_without_reading_it(gw):
    head = (f"POST /ethereum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {100 * MAX_BODY}\r\n\r\n").encode()
    raw, _ = raw_http(gw.port, head, read_timeout=5)
    assert status_code_of(raw) == 413


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""])
def test_wrong_content_type_is_415(gw, ctype):
    r = requests.post(gw.url("/ethereum"), data=json.dumps(body("eth_chainId")), headers={"Content-Type": ctype},
                      timeout=10)
    assert r.status_code == 415
    assert r.json()["error"]["code"] == -32600


def test_json_content_type_with_charset_is_accepted(gw):
    r = requests.post(gw.url("/ethereum"), data=json.dumps(body("eth_chainId")),
                      headers={"Content-Type": "Application/JSON; charset=utf-8"}, timeout=10)
    assert r.json()["result"] == "0x1"


def test_unknown_route_is_404_json(gw):
    for method in ("POST", "GET"):
        r = requests.request(method, gw.url("/nosuchchain"), data=json.dumps(body("eth_chainId")),
                             headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 404, method
        assert r.json()["error"]["code"] == -32601
        assert "/ethereum" in r.json()["error"]["message"]


def test_get_on_a_chain_is_405(gw):
    r = requests.get(gw.url("/ethereum"), timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    assert r.json()["error"]["code"] == -32600


@pytest.mark.parametrize("text", ['{"jsonrpc":"2.0","id":1,"method":"eth_chainId"', "not json", "", "[{]", '{"a":1}}',
                                  '\xff\xfe'])
def test_malformed_json_is_parse_error(gw, text):
    r = post(gw.url("/ethereum"), text.encode("latin-1"))
    assert r.status_code == 200
    assert r.json() == {"jsonrpc": "2.0", "id": None, "error": r.json()["error"]}
    assert r.json()["error"]["code"] == -32700


@pytest.mark.parametrize("item,want_id", [
    ('{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}', 1),
    ('{"id":2,"method":"eth_chainId"}', 2),
    ('{"jsonrpc":"2.0","id":3}', 3),
    ('{"jsonrpc":"2.0","id":4,"method":""}', 4),
    ('{"jsonrpc":"2.0","id":5,"method":7}', 5),
    ('{"jsonrpc":"2.0","id":6,"method":"eth_chainId","params":"0x1"}', 6),
    ('{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}', None),
    ('{"jsonrpc":"2.0","id":[1],"method":"eth_chainId"}', None),
    ('{"jsonrpc":"2.0","method":"eth_chainId","params":5}', None),  # an invalid notification is still answered
    ("5", None),
    ('"eth_chainId"', None),
    ("[]", None),
])
def test_invalid_request_is_32600(gw, item, want_id):
    r = post(gw.url("/ethereum"), item)
    assert r.status_code == 200
    reply = r.json()
    assert reply["error"]["code"] == -32600, reply
    assert reply["id"] == want_id


def test_invalid_items_of_a_batch_are_answered_in_place(gw):
    r = post(gw.url("/ethereum"), '[1, {"jsonrpc":"2.0","id":"ok","method":"eth_chainId"}, "x"]').json()
    assert [x["id"] for x in r] == [None, "ok", None]
    assert r[0]["error"]["code"] == -32600 and r[1]["result"] == "0x1" and r[2]["error"]["code"] == -32600


@pytest.mark.parametrize("method", DENIED_BY_DEFAULT + ["admin_addPeer", "debug_setHead", "personal_unlockAccount"])
def test_denied_namespaces_are_32601(gw, method):
    r = post(gw.url("/ethereum"), body(method, [], id="d")).json()
    assert r["id"] == "d" and r["error"]["code"] == -32601


def test_batch_over_max_batch_is_refused(gw):
    ok = post(gw.url("/ethereum"), [body("eth_chainId", id=i) for i in range(MAX_BATCH)]).json()
    assert len(ok) == MAX_BATCH and all(x["result"] == "0x1" for x in ok)
    r = post(gw.url("/ethereum"), [body("eth_chainId", id=i) for i in range(MAX_BATCH + 1)])
    assert r.status_code == 200
    reply = r.json()
    assert isinstance(reply, dict) and reply["id"] is None
    # src/core/jsonrpc.h: kBatchTooLarge (docs/interfaces.md said -32600; the code and docs/gateway.md say -32013).
    assert reply["error"]["code"] == -32013
    assert str(MAX_BATCH) in reply["error"]["message"]


def test_truncated_body_then_close_does_not_hurt_the_process(gw):
    req = (b"POST /ethereum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
           b'{"jsonrpc":"2.0","id":1,')
    raw, _ = raw_http(gw.port, req, close_write=True, read_timeout=5)
    assert raw == b"" or status_code_of(raw) == 400, raw


def test_truncated_body_then_stall_is_cut_off_by_read_timeout(gw):
    req = (b"POST /ethereum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
           b'{"jsonrpc":"2.0","id":1,')
    raw, took = raw_http(gw.port, req, read_timeout=READ_TIMEOUT + 5)
    assert status_code_of(raw) == 408, raw
    assert json_body_of(raw)["error"]["code"] in (-32700, -32600)
    assert took < READ_TIMEOUT + 3, took


def test_slow_client_sending_headers_byte_by_byte_is_cut_off(gw):
    req = b"POST /ethereum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    # 0.05 s per byte: the request would take ~13 s; read_timeout ends it after about 1 s.
    raw, took = raw_http(gw.port, req, trickle=0.05, read_timeout=READ_TIMEOUT + 10)
    assert status_code_of(raw) == 408, raw
    assert took < READ_TIMEOUT + 4, took


def test_idle_connection_is_closed_after_idle_timeout(gw):
    raw, took = raw_http(gw.port, b"", read_timeout=IDLE_TIMEOUT + 10)
    assert raw == b""
    assert IDLE_TIMEOUT - 0.5 < took < IDLE_TIMEOUT + 4, took


def test_malformed_http_is_400(gw):
    raw, _ = raw_http(gw.port, b"HELLO\x00 WORLD\r\n\r\n", read_timeout=5)
    assert raw == b"" or status_code_of(raw) == 400, raw


def test_many_bad_clients_at_once_leave_the_process_serving(gw):
    import threading
    junk = [b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"POST /ethereum HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"POST /ethereum HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\nzz\r\n"]
    threads = [threading.Thread(target=raw_http, args=(gw.port, junk[i % len(junk)]), kwargs={"read_timeout": 5,
                                                                                             "close_write": True})
               for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
