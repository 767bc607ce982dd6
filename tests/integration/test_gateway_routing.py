"""`nodeops gateway` routing against real anvil nodes on loopback: answers come back byte for byte,
chains are routed by path, batches keep order and ids, notifications get no reply, and signed
transactions are forwarded (a re-sent one answers its hash).

Run: PYTHONPATH=tests/support NODEOPS_BIN=build/release/nodeops python3 -m pytest tests/integration/test_gateway_routing.py
"""
import json

import pytest
import requests

from gateway_util import (DENIED_BY_DEFAULT, body, deploy_answer_contract, keccak_hex, post, raw_member,
                          require_binaries, signed_transfer)
from harness import Anvil, Nodeops, gateway_config, metric_value, wait_until
from lying_upstream import LyingUpstream

pytestmark = require_binaries()


@pytest.fixture(scope="module")
def node():
    """One anvil with a mined block holding a contract creation (block 1)."""
    with Anvil(chain_id=1) as a:
        a.contract = deploy_answer_contract(a)
        yield a


@pytest.fixture(scope="module")
def gw(node):
    with Nodeops.gateway(gateway_config({"ethereum": (1, [("a", node.url)])})) as g:
        yield g


BYTE_IDENTICAL_CALLS = [
    ("eth_getBlockByNumber", ["0x1", True]),
    ("eth_getBlockByNumber", ["0x0", False]),
    ("eth_call", [{"to": "CONTRACT", "data": "0x"}, "latest"]),
    ("eth_getCode", ["CONTRACT", "latest"]),
    ("eth_getBalance", ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x1"]),
    ("eth_feeHistory", ["0x1", "latest", [25, 75]]),
    ("eth_chainId", []),
]


@pytest.mark.parametrize("method,params", BYTE_IDENTICAL_CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(BYTE_IDENTICAL_CALLS)])
def test_result_bytes_are_the_upstreams(node, gw, method, params):
    params = json.loads(json.dumps(params).replace("CONTRACT", node.contract))
    direct = post(node.url, body(method, params, id=1)).text
    via = post(gw.url("/ethereum"), body(method, params, id="client-id")).text
    assert raw_member(via, "result") == raw_member(direct, "result")
    assert raw_member(via, "id") == '"client-id"'
    assert json.loads(via)["result"] is not None


def test_eth_call_and_full_block_carry_real_data(node, gw):
    """Guards the byte-identity test against comparing two empty answers."""
    call = post(gw.url("/ethereum"), body("eth_call", [{"to": node.contract, "data": "0x"}, "latest"])).json()
    assert int(call["result"], 16) == 42
    block = post(gw.url("/ethereum"), body("eth_getBlockByNumber", ["0x1", True])).json()["result"]
    assert len(block["transactions"]) == 1 and isinstance(block["transactions"][0], dict)


def test_large_reply_is_forwarded_whole(node, gw):
    # A batch of 40 full blocks through one client request: many replies assembled in order.
    calls = [body("eth_getBlockByNumber", ["0x1", True], id=i) for i in range(40)]
    direct = post(node.url, body("eth_getBlockByNumber", ["0x1", True])).text
    reply = post(gw.url("/ethereum"), calls).json()
    assert [r["id"] for r in reply] == list(range(40))
    want = json.loads(raw_member(direct, "result"))
    assert all(r["result"] == want for r in reply)


def test_single_chain_is_served_at_root_and_with_trailing_slash(gw):
    for path in ("/", "/ethereum", "/ethereum/"):
        assert post(gw.url(path), body("eth_chainId")).json()["result"] == "0x1", path


def test_ids_are_preserved_on_single_calls(gw):
    for raw_id in ('"abc"', '"x\\"y"', "7", "0", "-3", "null", "123456789012345678901234567890", "1.5"):
        text = post(gw.url("/ethereum"), '{"jsonrpc":"2.0","id":%s,"method":"eth_chainId"}' % raw_id).text
        assert raw_member(text, "id") == raw_id
        assert raw_member(text, "result") == '"0x1"'


def test_batch_keeps_order_and_ids(gw):
    items = [
        '{"jsonrpc":"2.0","id":"first","method":"eth_chainId"}',
        '{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber"}',
        '{"jsonrpc":"2.0","id":null,"method":"net_version"}',
        '{"jsonrpc":"2.0","method":"eth_chainId"}',  # notification: no reply
        '{"jsonrpc":"1.0","id":9,"method":"eth_chainId"}',  # invalid: -32600, same id
        '{"jsonrpc":"2.0","id":"denied","method":"admin_peers"}',  # -32601
        '{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"eth_getBalance",'
        '"params":["0x70997970C51812dc3A010C7d01b50e0d17dc79C8","latest"]}',
        '{"jsonrpc":"2.0","id":"unknown","method":"nosuch_method"}',  # forwarded; the node's own error
        '5',  # not an object: -32600 with id null
    ]
    text = post(gw.url("/ethereum"), "[" + ",".join(items) + "]").text
    reply = json.loads(text)
    assert [r["id"] for r in reply] == ["first", 7, None, 9, "denied", 123456789012345678901234567890, "unknown", None]
    assert '"id":123456789012345678901234567890' in text.replace(" ", "")
    assert reply[0]["result"] == "0x1"
    assert reply[1]["result"].startswith("0x")
    assert reply[2]["result"] == "1"
    assert reply[3]["error"]["code"] == -32600
    assert reply[4]["error"]["code"] == -32601
    assert int(reply[5]["result"], 16) > 0
    assert "not available" not in reply[6]["error"]["message"]  # the node's own "method not found"
    assert reply[7]["error"]["code"] == -32600


def test_big_batch_keeps_order(gw):
    n = 100  # the default max_batch
    calls = [body("eth_chainId" if i % 3 else "eth_getBalance",
                  None if i % 3 else ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "latest"],
                  id=f"id-{i}" if i % 2 else i) for i in range(n)]
    reply = post(gw.url("/ethereum"), calls).json()
    assert [r["id"] for r in reply] == [c["id"] for c in calls]
    assert all("result" in r for r in reply)


def test_notifications_get_no_reply_but_are_forwarded(node):
    with LyingUpstream(node.url, mode="proxy") as up, \
         Nodeops.gateway(gateway_config({"ethereum": (1, [("up", up.url)])})) as g:
        r = post(g.url("/ethereum"), body("eth_chainId", id=...))
        assert r.status_code == 204 and r.content == b""
        assert up.calls == 1
        r = post(g.url("/ethereum"), [body("eth_chainId", id=...), body("eth_blockNumber", id=...)])
        assert r.status_code == 204 and r.content == b""
        assert up.calls == 3
        r = post(g.url("/ethereum"), [body("eth_chainId", id=...), body("eth_chainId", id=2)])
        assert r.status_code == 200 and r.json() == [{"jsonrpc": "2.0", "id": 2, "result": "0x1"}]


def test_chains_are_routed_by_path():
    with Anvil(chain_id=1) as eth, Anvil(chain_id=137) as pol:
        cfg = gateway_config({"ethereum": (1, [("a", eth.url)]), "polygon": (137, [("p", pol.url)])})
        with Nodeops.gateway(cfg) as g:
            assert post(g.url("/ethereum"), body("eth_chainId")).json()["result"] == "0x1"
            assert post(g.url("/polygon"), body("eth_chainId")).json()["result"] == "0x89"
            root = post(g.url("/"), body("eth_chainId"))
            assert root.status_code == 404 and root.json()["error"]["code"] == -32601
            assert "/ethereum" in root.json()["error"]["message"]


def test_denied_namespaces_are_refused_before_any_upstream(node):
    with LyingUpstream(node.url, mode="proxy") as up, \
         Nodeops.gateway(gateway_config({"ethereum": (1, [("up", up.url)])})) as g:
        for m in DENIED_BY_DEFAULT:
            r = post(g.url("/ethereum"), body(m, [])).json()
            assert r["error"]["code"] == -32601, m
            assert r["id"] == 1
        assert up.calls == 0


def test_per_chain_allow_and_deny_lists(node):
    chains = {
        "open": (1, [("a", node.url)], {"allow_methods": ["debug_"], "deny_methods": ["eth_getBalance", "net_"]}),
        "plain": (1, [("b", node.url)]),
    }
    with Nodeops.gateway(gateway_config(chains)) as g:
        # Re-allowed namespace: forwarded, so the answer is the node's, not the gateway's refusal.
        r = post(g.url("/open"), body("debug_traceTransaction", ["0x" + "00" * 32])).json()
        assert "not available" not in json.dumps(r)
        assert post(g.url("/plain"), body("debug_traceTransaction", ["0x" + "00" * 32])).json()["error"]["code"] == -32601
        # Extra denials: an exact name and a prefix, on that chain only.
        assert post(g.url("/open"), body("eth_getBalance", [node.contract, "latest"])).json()["error"]["code"] == -32601
        assert post(g.url("/open"), body("net_version")).json()["error"]["code"] == -32601
        assert post(g.url("/open"), body("eth_chainId")).json()["result"] == "0x1"
        assert "result" in post(g.url("/plain"), body("eth_getBalance", [node.contract, "latest"])).json()
        assert post(g.url("/plain"), body("net_version")).json()["result"] == "1"


def test_send_raw_transaction_and_resend_answer_the_same_hash():
    with Anvil(chain_id=1) as a:
        a.pause_mining()  # keep the transaction in the pool, so a re-send is "already known"
        with Nodeops.gateway(gateway_config({"ethereum": (1, [("a", a.url)])})) as g:
            raw = signed_transfer(a.url)
            expected = keccak_hex(raw)
            first = post(g.url("/ethereum"), body("eth_sendRawTransaction", [raw])).json()
            assert first["result"] == expected
            # Straight to the node, a re-send is an error ...
            direct = a.rpc("eth_sendRawTransaction", [raw])
            assert "error" in direct and "already" in direct["error"]["message"]
            # ... through the gateway it is the same success, with the hash the node returned.
            again = post(g.url("/ethereum"), body("eth_sendRawTransaction", [raw], id="resend")).json()
            assert again == {"jsonrpc": "2.0", "id": "resend", "result": expected}
            a.mine(1)
            receipt = wait_until("receipt", lambda: post(g.url("/ethereum"),
                                                          body("eth_getTransactionReceipt", [expected])).json()["result"])
            assert receipt["status"] == "0x1"
            sent = metric_value(g.metrics(), "nodeops_gateway_requests_total", chain="ethereum",
                                method="eth_sendRawTransaction", outcome="ok")
            assert sent == 2


def test_send_raw_transaction_is_retried_past_a_failing_upstream():
    with Anvil(chain_id=1) as a:
        with LyingUpstream(a.url, mode="http_500") as liar:
            # The liar's weight makes it the first choice; it fails, the write goes to anvil.
            ups = [("liar", liar.url, {"weight": 1000}), ("a", a.url)]
            with Nodeops.gateway(gateway_config({"ethereum": (1, ups)})) as g:
                raw = signed_transfer(a.url)
                r = post(g.url("/ethereum"), body("eth_sendRawTransaction", [raw])).json()
                assert r["result"] == keccak_hex(raw)
                # Its failed attempt, then the broadcast of the transaction anvil accepted (which it
                # fails too, counted as such).
                assert liar.calls == 2
                assert metric_value(g.metrics(), "nodeops_gateway_broadcasts_total", chain="ethereum",
                                    outcome="failed") == 1
                assert a.rpc("eth_getTransactionReceipt", [r["result"]])["result"]["status"] == "0x1"


def test_block_reads_go_to_an_upstream_that_has_the_block():
    with Anvil(chain_id=1) as ahead, Anvil(chain_id=1) as behind:
        ahead.mine(3)
        cfg = gateway_config({"ethereum": (1, [("ahead", ahead.url), ("behind", behind.url)])},
                             chain={"max_lag_blocks": 5, "health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            wait_until("both healthy", lambda: g.status()["chains"][0]["healthy"] == 2)
            for i in range(20):
                r = post(g.url("/ethereum"), body("eth_getBlockByNumber", ["0x3", False], id=i)).json()
                assert r["result"] is not None and r["result"]["number"] == "0x3"
            assert g.upstream("ethereum", "behind")["requests_total"] == 0
