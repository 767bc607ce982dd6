"""The gateway's response cache against real anvil nodes: hits are the upstream's bytes under the
client's id, a reorg (anvil_reorg) drops every answer about unfinal blocks while final ones survive,
two lockstep replicas of one chain share entries and a fork between them misses, Cache-Control:
no-cache bypasses, and max_bytes holds under a scan.

Unfinal answers live for an hour here (unfinal_ttl: 1h): what makes the reorged answers go is the
head hash in their key, not a timer.

Run: PYTHONPATH=tests/support NODEOPS_BIN=build/release/nodeops python3 -m pytest tests/integration/test_gateway_cache.py
"""
import json

import pytest
import requests

from gateway_util import DEV_ADDR, body, raw_member, require_binaries
from harness import Anvil, Nodeops, gateway_config, metric_value, wait_until

pytestmark = require_binaries()

BOB = "0x1111111111111111111111111111111111111111"
CACHE = "{ enabled: true, max_bytes: 1MiB, max_entry_bytes: 64KiB, unfinal_ttl: 1h }"


def ask(gw, method, params, id=1, no_cache=False):
    """(raw reply text, X-Cache) of one call through the gateway."""
    headers = {"Content-Type": "application/json"}
    if no_cache:
        headers["Cache-Control"] = "no-cache"
    r = requests.post(gw.url("/ethereum"), data=json.dumps(body(method, params, id=id)), headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.text, r.headers.get("X-Cache")


def result(text):
    return json.loads(text)["result"]


def chain_status(gw):
    return next(c for c in gw.status()["chains"] if c["name"] == "ethereum")


def wait_for_head(gw, *nodes):
    """Until the gateway's probes have seen each node's current head hash."""
    want = [n.rpc("eth_getBlockByNumber", ["latest", False])["result"]["hash"] for n in nodes]
    wait_until("the gateway sees the new heads",
               lambda: [u["head_hash"] for u in chain_status(gw)["upstreams"]] == want, procs=[gw, *nodes])


@pytest.fixture
def node():
    with Anvil(chain_id=1) as a:
        a.mine(100)  # finalized = 100 - 64 = 36
        yield a


def gateway_for(*nodes, cache=CACHE):
    ups = [(f"n{i}", n.url) for i, n in enumerate(nodes)]
    return Nodeops.gateway(gateway_config({"ethereum": (1, ups)}, cache=cache, chain={"health_interval": "200ms"}))


def test_hits_are_the_upstreams_bytes_under_the_clients_id(node):
    with gateway_for(node) as gw:
        wait_until("finality known", lambda: chain_status(gw)["finalized"] == 36, procs=[gw])
        direct = requests.post(node.url, json=body("eth_getBlockByNumber", ["0xa", True]), timeout=10).text
        first, x1 = ask(gw, "eth_getBlockByNumber", ["0xa", True], id=1)
        # Another spelling of the same call, another id: one entry.
        hit, x2 = ask(gw, "eth_getBlockByNumber", ["0x0A", True], id="client-7")
        assert (x1, x2) == ("MISS", "HIT")
        assert raw_member(hit, "result") == raw_member(direct, "result") == raw_member(first, "result")
        assert raw_member(hit, "id") == '"client-7"'
        assert result(hit)["number"] == "0xa"
        bypass, x3 = ask(gw, "eth_getBlockByNumber", ["0xa", True], no_cache=True)
        assert x3 == "BYPASS" and raw_member(bypass, "result") == raw_member(direct, "result")
        # Writes and not-found answers are never kept.
        _, x4 = ask(gw, "eth_getTransactionByHash", ["0x" + "ab" * 32])
        _, x5 = ask(gw, "eth_getTransactionByHash", ["0x" + "ab" * 32])
        assert result(_) is None and x5 == "MISS"
        m = gw.metrics()
        assert metric_value(m, "nodeops_gateway_cache_requests_total", chain="ethereum", **{"class": "block"},
                            result="hit") == 1
        assert metric_value(m, "nodeops_gateway_cache_requests_total", chain="ethereum", **{"class": "block"},
                            result="bypass") == 1
        assert metric_value(m, "nodeops_gateway_cache_entries") >= 1
        assert chain_status(gw)["cache"]["hits"] == 1


def test_a_reorg_drops_unfinal_answers_and_keeps_final_ones(node):
    with gateway_for(node) as gw:
        wait_until("finality known", lambda: chain_status(gw)["finalized"] == 36, procs=[gw])
        wait_for_head(gw, node)
        reads = [("eth_getBalance", [BOB, "latest"]), ("eth_getBlockByNumber", ["0x63", False]),
                 ("eth_getBlockByNumber", ["latest", False]), ("eth_getBalance", [BOB, "0x64"])]
        final = ("eth_getBlockByNumber", ["0x14", False])  # block 20: final
        before = {}
        for method, params in reads + [final]:
            ask(gw, method, params)
            text, x = ask(gw, method, params)
            assert x == "HIT", (method, params)
            before[(method, json.dumps(params))] = result(text)
        assert before[("eth_getBalance", json.dumps([BOB, "latest"]))] == "0x0"

        # Replace the last 3 blocks (98..100) with ones where block 99 pays BOB one ether.
        tx = {"from": DEV_ADDR, "to": BOB, "value": hex(10**18)}
        assert "error" not in node.rpc("anvil_reorg", [3, [[tx, 1]]])
        wait_for_head(gw, node)

        for i, (method, params) in enumerate(reads):
            text, x = ask(gw, method, params)
            direct = node.rpc(method, params)["result"]
            # The last read names block 0x64 by number: `latest` is that block, and the first read
            # (BOB's balance at latest) has just filled its entry at the new head.
            assert x == ("HIT" if i == len(reads) - 1 else "MISS"), (method, params)
            assert result(text) == direct, (method, params)
            assert result(text) != before[(method, json.dumps(params))], (method, params)
        assert result(ask(gw, "eth_getBalance", [BOB, "latest"])[0]) == hex(10**18)
        # A reorg shallower than finality leaves final answers as they were.
        text, x = ask(gw, *final)
        assert x == "HIT" and result(text) == before[(final[0], json.dumps(final[1]))]
        assert result(text) == node.rpc(*final)["result"]


def test_block_tags_are_keyed_as_the_numbers_they_stand_for(node):
    with gateway_for(node) as gw:
        wait_until("finality known", lambda: chain_status(gw)["finalized"] == 36, procs=[gw])
        wait_for_head(gw, node)
        # `latest`, an omitted block and the head's number are one entry.
        first, x1 = ask(gw, "eth_getBalance", [DEV_ADDR, "latest"])
        by_number, x2 = ask(gw, "eth_getBalance", [DEV_ADDR, "0x64"])
        omitted, x3 = ask(gw, "eth_getBalance", [DEV_ADDR])
        assert (x1, x2, x3) == ("MISS", "HIT", "HIT")
        assert result(first) == result(by_number) == result(omitted) == node.rpc("eth_getBalance", [DEV_ADDR, "latest"])["result"]
        block, x4 = ask(gw, "eth_getBlockByNumber", ["latest", False])
        assert x4 == "MISS" and result(block)["number"] == "0x64"
        assert ask(gw, "eth_getBlockByNumber", ["0x64", False])[1] == "HIT"

        # `finalized` is the chain's finalized block, and its answer is final: a new head keeps it.
        final_block, x5 = ask(gw, "eth_getBlockByNumber", ["finalized", False])
        assert x5 == "MISS" and result(final_block) == node.rpc("eth_getBlockByNumber", ["finalized", False])["result"]
        assert result(final_block)["number"] == hex(36)
        node.mine(1)
        wait_for_head(gw, node)
        assert ask(gw, "eth_getBlockByNumber", ["0x24", False])[1] == "HIT"
        # Block 101 is the head now: `latest` moved with it.
        block, x6 = ask(gw, "eth_getBlockByNumber", ["latest", False])
        assert x6 == "MISS" and result(block)["number"] == "0x65"
        # A log query with its bounds left out reads the head block.
        logs, x7 = ask(gw, "eth_getLogs", [{"address": BOB}])
        assert x7 == "MISS" and result(logs) == []
        assert ask(gw, "eth_getLogs", [{"address": BOB, "fromBlock": "0x65", "toBlock": "0x65"}])[1] == "HIT"


def lockstep_replica():
    return Anvil(chain_id=1, extra=["--timestamp", "1700000000", "--no-mining"])


def mine(nodes, timestamps):
    for n, ts in zip(nodes, timestamps):
        assert "error" not in n.rpc("evm_mine", [ts])


def test_lockstep_replicas_share_entries_and_a_fork_misses():
    with lockstep_replica() as a, lockstep_replica() as b:
        for i in range(1, 81):
            mine([a, b], [1700000000 + 12 * i] * 2)
        assert a.rpc("eth_getBlockByNumber", ["latest", False]) == b.rpc("eth_getBlockByNumber", ["latest", False])
        with gateway_for(a, b) as gw:
            wait_until("finality known", lambda: chain_status(gw)["finalized"] == 16, procs=[gw])
            wait_for_head(gw, a, b)
            old = ("eth_getBlockByNumber", ["0x5", False])
            latest = ("eth_getBlockByNumber", ["latest", False])
            for call in (old, latest):
                ask(gw, *call)
                # Whichever replica a call goes to, the answer is the same: one entry serves both.
                for _ in range(4):
                    text, x = ask(gw, *call)
                    assert x == "HIT"
                    assert result(text) == a.rpc(*call)["result"] == b.rpc(*call)["result"]
            assert metric_value(gw.metrics(), "nodeops_gateway_upstream_requests_total", chain="ethereum",
                                upstream="n0", outcome="ok") + metric_value(
                gw.metrics(), "nodeops_gateway_upstream_requests_total", chain="ethereum", upstream="n1",
                outcome="ok") == 2
            # Fork: block 81 differs between the replicas (another timestamp).
            mine([a, b], [1700000000 + 12 * 81, 1700000000 + 12 * 81 + 1])
            hashes = {n.rpc(*latest)["result"]["hash"] for n in (a, b)}
            assert len(hashes) == 2
            wait_for_head(gw, a, b)
            text, x = ask(gw, *latest)
            assert x == "MISS" and result(text)["hash"] in hashes and result(text)["number"] == hex(81)
            text, x = ask(gw, *old)
            assert x == "HIT" and result(text) == a.rpc(*old)["result"]


def test_max_bytes_holds_under_a_scan():
    with Anvil(chain_id=1) as node:
        node.mine(400)
        cache = "{ enabled: true, max_bytes: 64KiB, max_entry_bytes: 4KiB, unfinal_ttl: 1h }"
        with gateway_for(node, cache=cache) as gw:
            wait_until("finality known", lambda: chain_status(gw)["finalized"] == 336, procs=[gw])
            for n in range(1, 301):
                _, x = ask(gw, "eth_getBlockByNumber", [hex(n), False])
                assert x == "MISS"
            m = gw.metrics()
            assert metric_value(m, "nodeops_gateway_cache_bytes") <= 64 * 1024
            assert metric_value(m, "nodeops_gateway_cache_evictions_total") > 0
            assert 0 < metric_value(m, "nodeops_gateway_cache_entries") < 300
