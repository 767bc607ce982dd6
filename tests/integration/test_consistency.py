"""Consistency through a pool of real anvil nodes (issue 18): a raw transaction one upstream
accepts is broadcast to the others, so replicas mined in lockstep stay identical; and a client
reads its own writes (receipt, transaction, pending nonce) even from a pool where another node
does not have the transaction."""
from __future__ import annotations

import subprocess
import time

import requests

from gateway_util import CAST_BIN, DEV_ADDR, DEV_KEY, OTHER_ADDR, body, post, require_binaries
from harness import ANVIL_BIN, Nodeops, Process, free_port, gateway_config, metric_value, rpc, wait_until
from lying_upstream import LyingUpstream

pytestmark = require_binaries()

GENESIS = 1_700_000_000


class Replica(Process):
    """An anvil that mines only when told, from a fixed genesis: replicas of one chain."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(f"anvil-{self.port}", [str(ANVIL_BIN), "--port", str(self.port), "--chain-id", "1",
                                                 "--timestamp", str(GENESIS), "--no-mining", "--silent"])
        wait_until("replica", lambda: rpc(self.url, "eth_chainId").get("result"), procs=[self])

    def call(self, method, params=None):
        return rpc(self.url, method, params or [])


def mine_all(replicas, height):
    for r in replicas:
        r.call("evm_mine", [GENESIS + 12 * height])


def signed(nonce: int) -> str:
    out = subprocess.run([CAST_BIN, "mktx", "--private-key", DEV_KEY, "--chain", "1", "--nonce", str(nonce),
                          "--gas-limit", "21000", "--gas-price", "2000000000", "--priority-gas-price", "1000000000",
                          OTHER_ADDR, "--value", "1"], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_a_transaction_accepted_by_one_replica_reaches_the_others_and_they_stay_identical():
    replicas = [Replica() for _ in range(3)]
    try:
        ups = [(f"r{i}", r.url) for i, r in enumerate(replicas)]
        with Nodeops.gateway(gateway_config({"eth": (1, ups)}, chain={"health_interval": "200ms"})) as g:
            for n in range(5):
                raw = signed(n)
                tx = post(g.url("/eth"), body("eth_sendRawTransaction", [raw])).json()["result"]
                # Every replica has it in its pool, whichever took the call.
                for r in replicas:
                    wait_until("broadcast reached the replica", lambda r=r: r.call("eth_getTransactionByHash", [tx])["result"],
                               timeout=5, procs=[g])
                mine_all(replicas, n + 1)
                hashes = {r.call("eth_getBlockByNumber", [hex(n + 1), False])["result"]["hash"] for r in replicas}
                assert len(hashes) == 1, f"replicas forked at block {n + 1}: {hashes}"
                receipt = post(g.url("/eth"), body("eth_getTransactionReceipt", [tx])).json()["result"]
                assert receipt and receipt["status"] == "0x1"
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_broadcasts_total", chain="eth", outcome="ok") == 10
    finally:
        for r in replicas:
            r.stop()


def test_a_client_reads_its_own_writes_where_another_node_lacks_the_transaction():
    a, b = Replica(), Replica()
    try:
        with LyingUpstream(b.url, mode="deaf_to_txs") as deaf:
            ups = [("a", a.url), ("deaf", deaf.url)]
            with Nodeops.gateway(gateway_config({"eth": (1, ups)}, chain={"health_interval": "200ms"})) as g:
                sent = 0
                while True:  # until "a" took one: "deaf" refuses them all
                    r = post(g.url("/eth"), body("eth_sendRawTransaction", [signed(0)])).json()
                    sent += 1
                    if "result" in r:
                        tx = r["result"]
                        break
                    assert "txpool is full" in r["error"]["message"] and sent < 50, r
                assert b.call("eth_getTransactionByHash", [tx])["result"] is None  # the deaf node never got it
                # Every read of the client's own transaction and nonce goes where it is known.
                for i in range(30):
                    got = post(g.url("/eth"), body("eth_getTransactionByHash", [tx], id=i)).json()["result"]
                    assert got and got["hash"] == tx, (i, got)
                    nonce = post(g.url("/eth"), body("eth_getTransactionCount", [DEV_ADDR, "pending"], id=i)).json()
                    assert nonce["result"] == "0x1", (i, nonce)
                mine_all([a, b], 1)
                for i in range(10):
                    receipt = post(g.url("/eth"), body("eth_getTransactionReceipt", [tx], id=i)).json()["result"]
                    assert receipt and receipt["status"] == "0x1", (i, receipt)
                # The deaf node was reached for everything else: reads really were spread.
                assert deaf.calls > 0
                assert metric_value(g.metrics(), "nodeops_gateway_broadcasts_total", chain="eth", outcome="rejected") >= 1
    finally:
        a.stop()
        b.stop()


def test_a_client_never_sees_the_head_go_backwards_in_a_pool_with_a_lagging_node():
    """10 000 calls while the two nodes' lag changes at random (0 to 5 blocks, both in rotation):
    the head served to the client never decreases."""
    import random
    from harness import Anvil
    rng = random.Random(18)
    with Anvil(chain_id=1) as ahead, Anvil(chain_id=1) as behind:
        ahead.mine(10)
        behind.mine(7)  # 3 blocks behind: still in rotation with max_lag_blocks 5
        heights = {"ahead": 10, "behind": 7}
        ups = [("ahead", ahead.url), ("behind", behind.url)]
        cfg = gateway_config({"eth": (1, ups)}, chain={"health_interval": "200ms", "max_lag_blocks": 5})
        with Nodeops.gateway(cfg) as g, requests.Session() as session:
            assert all(u["healthy"] for u in g.status()["chains"][0]["upstreams"])
            served, last = [], 0
            for i in range(10_000):
                if i % 250 == 125:
                    # The pool moves on; the laggard catches up, falls further behind or keeps its lag.
                    ahead.mine(1)
                    heights["ahead"] += 1
                    step = rng.choice([0, 1, 2])
                    step = min(step, heights["ahead"] - heights["behind"])
                    if heights["ahead"] - heights["behind"] - step > 5:
                        step = heights["ahead"] - heights["behind"] - 5
                    if step:
                        behind.mine(step)
                        heights["behind"] += step
                head = int(post(g.url("/eth"), body("eth_blockNumber", id=i), session=session).json()["result"], 16)
                assert head >= last, f"call {i}: head went from {last} to {head}"
                last = head
                served.append(head)
            # The head only went forward, and it did move with the pool.
            assert served[-1] == heights["ahead"], (served[-1], heights)


def test_x_min_block_asks_for_a_block_and_x_block_number_says_which_one_answered():
    """A client that saw block 10 elsewhere says so with X-Min-Block: none of its reads comes from
    the node at 7, though that node is in rotation and takes half of everyone else's first calls."""
    from harness import Anvil
    with Anvil(chain_id=1) as ahead, Anvil(chain_id=1) as behind:
        ahead.mine(10)
        behind.mine(7)
        ups = [("ahead", ahead.url), ("behind", behind.url)]
        # Behind a trusted proxy each X-Forwarded-For address is a client of its own, with no history.
        cfg = gateway_config({"eth": (1, ups)}, trusted_proxies="['127.0.0.1/32']",
                             chain={"health_interval": "200ms", "max_lag_blocks": 5})
        with Nodeops.gateway(cfg) as g:
            wait_until("both nodes probed", lambda: sorted(u.get("head") or 0 for u in g.status()["chains"][0]["upstreams"]) == [7, 10],
                       procs=[g])

            def send(payload, headers):
                return requests.post(g.url("/eth"), json=payload, headers=headers, timeout=10)

            def first_read(client: int, min_block: str | None):
                headers = {"X-Forwarded-For": f"10.0.{client // 250}.{client % 250 + 1}"}
                if min_block is not None:
                    headers["X-Min-Block"] = min_block
                r = send(body("eth_blockNumber"), headers)
                assert r.status_code == 200, r.text
                head = int(r.json()["result"], 16)
                assert r.headers["X-Block-Number"] == hex(head)
                return head

            # Without the header, fresh clients land on both nodes (equal weights: 40 calls all on
            # one node would be a one-in-a-trillion draw).
            assert {first_read(i, None) for i in range(40)} == {7, 10}
            # With it, every fresh client's first read is at block 10 or above, in hex or decimal.
            assert {first_read(100 + i, "0xa" if i % 2 else "10") for i in range(40)} == {10}
            # A read that names its block says that block.
            r = send(body("eth_getBalance", [DEV_ADDR, "0x5"]), {})
            assert r.headers["X-Block-Number"] == "0x5"
            # A header that is not a number is refused, with a JSON-RPC error.
            r = send(body("eth_blockNumber"), {"X-Min-Block": "latest"})
            assert r.status_code == 400 and "X-Min-Block" in r.json()["error"]["message"]
