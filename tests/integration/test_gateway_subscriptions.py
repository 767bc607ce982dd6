"""WebSocket subscriptions (issue 16 items 3, 4, 7) against the real binary and real anvil replicas
mined in lockstep: a newHeads subscriber sees every block number once and in order while the node
feeding the gateway's follower is killed, another stops mining and a third forks (the forked height
is sent again with the canonical block); anvil_reorg gives a logs subscriber its logs back with
"removed": true before the new ones, and subscribers with the same filter share one upstream fetch
per block; newPendingTransactions survives the node holding its upstream filter; ethers v6's
WebSocketProvider receives its `block` events through the gateway; the per-connection limit; and
Solana's slotSubscribe from the pool's slot tracking (recorded Agave replies).

Run: NODEOPS_BIN=build/release/nodeops PYTHONPATH=tests/support:tests/integration \
     /usr/bin/python3 -m pytest tests/integration/test_gateway_subscriptions.py
Needs: anvil and ethers (.tools), node, python3-websockets and chromium (Debian).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading

import pytest

from fixture_server import FixtureServer
from gateway_util import DEV_ADDR, require_binaries
from harness import REPO, Anvil, Nodeops, free_port, gateway_config, metric_value, wait_until
from test_consistency import GENESIS, Replica
from test_gateway_edge import chromium_dom

websockets = pytest.importorskip("websockets")  # Debian python3-websockets (scripts/bootstrap.sh)

pytestmark = require_binaries()

ETHERS = REPO / ".tools" / "node_modules" / "ethers"
PING = "0x48257dc961b6f792c2b78a080dacfed693b660960a702de21cee364e20270e2f"
RUNTIME = "3660006000377f" + PING[2:] + "366000a100"  # LOG1(calldata, PING): see test_filters.py
INIT = "0x602c600c600039602c6000f3" + RUNTIME
CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
BODY_KEYS = {"transactions", "uncles", "size", "totalDifficulty", "withdrawals"}


def ws_url(g, chain="eth") -> str:
    return f"ws://{g.listen}/{chain}"


class Subscriber:
    """One WebSocket connection in a thread of its own: sends one subscribe call, then records every
    message it receives (notifications and replies) until closed."""

    def __init__(self, url: str, method: str, params: list, max_size=None):
        self.url, self.method, self.params = url, method, params
        self.messages: list[dict] = []
        self.reply: dict | None = None
        self.closed: Exception | None = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._ws = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(max_size),),
                                        daemon=True)
        self._thread.start()
        assert self._ready.wait(15), f"no reply to {method} from {url}"
        assert self.reply is not None and "result" in self.reply, self.reply

    async def _run(self, max_size):
        try:
            async with websockets.connect(self.url, max_size=max_size) as ws:
                self._ws = ws
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": self.method, "params": self.params}))
                self.reply = json.loads(await ws.recv())
                self._ready.set()
                async for message in ws:
                    self.messages.append(json.loads(message))
        except Exception as e:  # noqa: BLE001 - recorded for the test to look at
            self.closed = e
        finally:
            self._ready.set()

    @property
    def id(self):
        return self.reply["result"]

    def results(self, method="eth_subscription") -> list:
        return [m["params"]["result"] for m in list(self.messages)
                if m.get("method") == method and m["params"]["subscription"] == self.id]

    def call(self, method: str, params: list, id: int) -> dict:
        asyncio.run_coroutine_threadsafe(
            self._ws.send(json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params})),
            self._loop).result(5)
        found = []
        wait_until(f"reply {id}", lambda: found.extend(m for m in list(self.messages) if m.get("id") == id) or found)
        return found[0]

    def close(self):
        if self._ws is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(5)
        self._thread.join(5)


class Replicas:
    """Anvil replicas of one chain, each mined on its own so a test can make one lag or fork."""

    def __init__(self, n: int):
        self.nodes = [Replica() for _ in range(n)]

    def upstreams(self):
        return [(f"r{i}", r.url) for i, r in enumerate(self.nodes)]

    def mine(self, which, height: int, offset: int = 0) -> str:
        hashes = set()
        for i in which:
            self.nodes[i].call("evm_mine", [GENESIS + 12 * height + offset])
            block = self.nodes[i].call("eth_getBlockByNumber", [hex(height), False])["result"]
            hashes.add(block["hash"])
        assert len(hashes) == 1, f"replicas {which} differ at {height}: {hashes}"
        return hashes.pop()

    def block(self, i: int, height: int) -> dict:
        return self.nodes[i].call("eth_getBlockByNumber", [hex(height), False])["result"]

    def stop(self):
        for r in self.nodes:
            r.stop()


def follower_at(g, height: int):
    wait_until(f"the follower holds block {height}",
               lambda: metric_value(g.metrics(), "nodeops_gateway_follower_head", chain="eth") == height, procs=[g])


def numbers(heads) -> list[int]:
    return [int(h["number"], 16) for h in heads]


def test_new_heads_are_gapless_and_exact_while_nodes_die_lag_and_fork(tmp_path):
    pool = Replicas(3)
    try:
        for h in (1, 2):
            pool.mine([0, 1, 2], h)
        cfg = gateway_config({"eth": (1, pool.upstreams())}, chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            sub = Subscriber(ws_url(g), "eth_subscribe", ["newHeads"])
            other = Subscriber(ws_url(g), "eth_subscribe", ["newHeads"])  # shares the feed
            assert sub.id.startswith("0x") and len(sub.id) >= 20 and sub.id != other.id
            follower_at(g, 2)

            def seen(height):
                wait_until(f"the subscriber saw block {height} (has {numbers(sub.results())[-3:]})",
                           lambda: any(int(h["number"], 16) == height for h in sub.results()), procs=[g])

            canonical = {}
            for h in (3, 4):
                canonical[h] = pool.mine([0, 1, 2], h)
            seen(4)
            for h in range(5, 13):  # a burst: the follower sees the pool's head jump and back-fills
                canonical[h] = pool.mine([0, 1, 2], h)
            seen(12)
            pool.nodes[0].stop()  # the node the follower asks first (all equal: the first one)
            for h in (13, 14):
                canonical[h] = pool.mine([1, 2], h)
            seen(14)
            for h in (15, 16, 17):  # r2 stops mining: only r1 has these for now
                canonical[h] = pool.mine([1], h)
            seen(17)
            for h in (15, 16, 17):  # r2 catches up: the same blocks
                assert pool.mine([2], h) == canonical[h]
            forked = pool.mine([1], 18, offset=5)  # r1 forks alone at 18
            seen(18)
            canonical[18] = pool.mine([2], 18)  # r2 mines the canonical 18 and 19: r1's 18 is gone
            canonical[19] = pool.mine([2], 19)
            assert forked != canonical[18]
            seen(19)
            pool.nodes[1].stop()  # the node that fed the follower through the lag and the fork
            for h in (20, 21):
                canonical[h] = pool.mine([2], h)
            seen(21)

            heads = sub.results()
            got = numbers(heads)
            # Every height once and in order; 18 twice: the fork's block, then the canonical one.
            assert got == list(range(3, 19)) + [18, 19, 20, 21], got
            hashes = [h["hash"] for h in heads]
            assert hashes[15] == forked and hashes[16] == canonical[18]
            assert [hh for i, hh in enumerate(hashes) if i != 15] == [canonical[n] for n in range(3, 22)]
            # Each block links to the one sent before it, except the re-sent height (to 17).
            for prev, cur in zip(heads, heads[1:]):
                if cur["hash"] == canonical[18]:
                    assert cur["parentHash"] == canonical[17]
                else:
                    assert cur["parentHash"] == prev["hash"]
            # geth's header shape: the node's block without its body.
            block = pool.block(2, 20)
            assert heads[-2] == {k: v for k, v in block.items() if k not in BODY_KEYS}
            assert numbers(other.results()) == got, "a second subscriber of the same feed gets the same"
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_subscriptions", chain="eth", kind="newHeads") == 2
            assert metric_value(m, "nodeops_gateway_subscription_feeds", chain="eth", kind="newHeads") == 1
            assert metric_value(m, "nodeops_gateway_subscription_notifications_total", chain="eth",
                                kind="newHeads") == 2 * len(got)
            assert metric_value(m, "nodeops_gateway_follower_backfilled_blocks_total", chain="eth") >= 1
            # r1 answered while r2 lagged, r2 alone at the end: the follower moved between them.
            assert metric_value(m, "nodeops_gateway_subscription_feed_restarts_total", chain="eth", feed="blocks") >= 1
            assert metric_value(m, "nodeops_gateway_follower_reorgs_total", chain="eth") == 1
            # The status page shows them (rendered by Debian's chromium, scripts/bootstrap.sh).
            dom = chromium_dom(g.admin_url("/"), tmp_path / "profile")
            assert "WebSocket: 2 connections · 2 subscriptions (newHeads 2)" in dom, dom[-3000:]
            sub.close()
            other.close()
            wait_until("subscriptions end with their connections",
                       lambda: metric_value(g.metrics(), "nodeops_gateway_subscriptions", chain="eth",
                                            kind="newHeads") == 0, procs=[g])
            assert metric_value(g.metrics(), "nodeops_gateway_subscription_feeds", chain="eth", kind="newHeads") == 0
            wait_until("the follower stops with its last subscriber",
                       lambda: metric_value(g.metrics(), "nodeops_gateway_follower_running", chain="eth") == 0,
                       procs=[g])
    finally:
        pool.stop()


def send(node: Anvil, data: str, to: str | None = CONTRACT) -> str:
    """A transaction from anvil's first dev account, once mined (anvil may answer before it mines)."""
    tx = {"from": DEV_ADDR, "data": data, "gas": hex(200000)}
    if to:
        tx["to"] = to
    h = node.rpc("eth_sendTransaction", [tx])["result"]
    wait_until(f"{h} mined", lambda: node.rpc("eth_getTransactionReceipt", [h]).get("result"))
    return h


def test_logs_are_shared_per_filter_and_a_reorg_sends_them_again_removed():
    with Anvil(chain_id=1) as node:  # mines each transaction at once
        send(node, INIT, to=None)
        wait_until("the contract", lambda: node.rpc("eth_getCode", [CONTRACT, "latest"])["result"] == "0x" + RUNTIME)
        cfg = gateway_config({"eth": (1, [("a", node.url)])}, chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            flt = {"address": CONTRACT, "topics": [PING]}
            a = Subscriber(ws_url(g), "eth_subscribe", ["logs", flt])
            b = Subscriber(ws_url(g), "eth_subscribe", ["logs", {"topics": [PING.upper().replace("0X", "0x")],
                                                                 "address": CONTRACT.upper().replace("0X", "0x")}])
            c = Subscriber(ws_url(g), "eth_subscribe", ["logs", {"address": CONTRACT}])
            none = Subscriber(ws_url(g), "eth_subscribe", ["logs", {"topics": [PING, PING]}])  # matches nothing
            start = node.head()
            follower_at(g, start)
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_subscription_feeds", chain="eth", kind="logs") == 3
            assert metric_value(m, "nodeops_gateway_subscriptions", chain="eth", kind="logs") == 4
            first = send(node, "0x" + f"{1:064x}")
            old_block = node.rpc("eth_getTransactionReceipt", [first])["result"]["blockHash"]
            for s in (a, b, c):
                wait_until("the first log", lambda s=s: len(s.results()) >= 1, procs=[g])
            # The last block is replaced by an empty one: its log is gone.
            assert "error" not in node.rpc("anvil_reorg", [1, []])
            for s in (a, b, c):
                wait_until("the removed log", lambda s=s: len(s.results()) >= 2, procs=[g])
            second = send(node, "0x" + f"{2:064x}")
            # What the node now has after the reorged height (anvil may mine the dropped
            # transaction again): exactly that comes next, once.
            after = node.rpc("eth_getLogs", [{"fromBlock": hex(start + 1), "toBlock": "latest",
                                              "address": CONTRACT}])["result"]
            assert second in [l["transactionHash"] for l in after]
            for s in (a, b, c):
                wait_until("the new logs", lambda s=s: len(s.results()) >= 2 + len(after), procs=[g])
            for s in (a, b, c):
                logs = s.results()
                assert [(l["transactionHash"], l["removed"], int(l["data"], 16)) for l in logs[:2]] == [
                    (first, False, 1), (first, True, 1)], logs
                assert logs[1]["blockHash"] == old_block
                assert {k: v for k, v in logs[1].items() if k != "removed"} == \
                    {k: v for k, v in logs[0].items() if k != "removed"}
                assert logs[2:] == after, "then the new chain's logs, as the node gives them"
            assert none.results() == []
            m = g.metrics()
            # Blocks added since the feeds began: the first ping's, the reorg's, and those up to the
            # head; one eth_getLogs each per distinct filter (3 feeds), not per subscriber (4).
            added = 1 + node.head() - start
            assert metric_value(m, "nodeops_gateway_subscription_log_fetches_total", chain="eth") == 3 * added
            assert metric_value(m, "nodeops_gateway_subscription_notifications_total", chain="eth",
                                kind="logs") == sum(len(s.results()) for s in (a, b, c))
            # Unsubscribe: true once, then false; the feed stays while another client has it.
            assert a.call("eth_unsubscribe", [a.id], id=5)["result"] is True
            assert a.call("eth_unsubscribe", [a.id], id=6)["result"] is False
            assert a.call("eth_unsubscribe", [b.id], id=7)["result"] is False, "another connection's subscription"
            assert metric_value(g.metrics(), "nodeops_gateway_subscription_feeds", chain="eth", kind="logs") == 3
            for s in (a, b, c, none):
                s.close()


def test_pending_transactions_follow_a_healthy_node():
    pool = Replicas(2)  # --no-mining: transactions stay pending
    try:
        cfg = gateway_config({"eth": (1, pool.upstreams())}, chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            sub = Subscriber(ws_url(g), "eth_subscribe", ["newPendingTransactions"])
            alive = list(pool.nodes)

            def send_everywhere(nonce):
                hashes = set()
                for r in alive:
                    if True:
                        tx = {"from": DEV_ADDR, "to": DEV_ADDR, "value": "0x1", "nonce": hex(nonce), "gas": "0x5208"}
                        hashes.add(r.call("eth_sendTransaction", [tx])["result"])
                assert len(hashes) == 1, hashes
                return hashes.pop()

            def delivered(tx):
                wait_until(f"pending {tx}", lambda: tx in sub.results(), procs=[g])

            # The first transaction may come before the filter exists: send until one is seen.
            first = None
            nonce = 0
            for nonce in range(0, 50):
                first = send_everywhere(nonce)
                try:
                    wait_until("first pending", lambda: first in sub.results(), timeout=2, procs=[g])
                    break
                except AssertionError:
                    continue
            # The feed's filter lives on the first node (both equal: the first one): it goes, and the
            # feed installs a filter on the other one before the next transaction is sent.
            pool.nodes[0].stop()
            alive.remove(pool.nodes[0])
            wait_until("the pending feed restarted", lambda: metric_value(
                g.metrics(), "nodeops_gateway_subscription_feed_restarts_total", chain="eth", feed="pending") >= 1,
                procs=[g])
            nonce += 1
            again = send_everywhere(nonce)
            delivered(again)
            assert len(sub.results()) == len(set(sub.results())), "each hash once"
            sub.close()
    finally:
        pool.stop()


def test_ethers_websocket_provider_receives_every_block():
    node_bin = shutil.which("node")
    if not node_bin or not ETHERS.is_dir():
        if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
            pytest.fail("node and ethers (make bootstrap) are required")
        pytest.skip("node or ethers missing")
    with Anvil(chain_id=1) as node:
        node.mine()  # (so that the follower's head says something: 0 is also "not running")
        cfg = gateway_config({"eth": (1, [("a", node.url)])}, chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            script = """
const { ethers } = require(process.env.ETHERS_PATH);
const provider = new ethers.WebSocketProvider(process.argv[1]);
const seen = [];
provider.on('block', (n) => {
  seen.push(n);
  console.log(JSON.stringify({ block: n }));
  if (seen.length >= 5) { console.log(JSON.stringify({ done: seen })); provider.destroy(); process.exit(0); }
});
setTimeout(() => { console.log(JSON.stringify({ timeout: seen })); process.exit(1); }, 60000);
"""
            proc = subprocess.Popen([node_bin, "-e", script, ws_url(g)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env={**os.environ, "ETHERS_PATH": str(ETHERS)})
            try:
                wait_until("ethers subscribed", lambda: metric_value(g.metrics(), "nodeops_gateway_subscriptions",
                                                                     chain="eth", kind="newHeads") == 1,
                           timeout=30, procs=[g])
                follower_at(g, node.head())
                start = node.head()
                for _ in range(8):
                    node.mine()
                    if proc.poll() is not None:
                        break
                out, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            done = [line["done"] for line in lines if "done" in line]
            assert done, (out, err[-2000:])
            # ethers reports each new block number (it may first report the current head).
            got = [n for n in done[0] if n > start]
            assert got == list(range(start + 1, start + 1 + len(got))) and len(got) >= 4, done


def test_subscription_limits_and_bad_calls():
    with Anvil(chain_id=1) as node:
        cfg = gateway_config({"eth": (1, [("a", node.url)])}, websocket="{ max_subscriptions_per_connection: 2 }")
        with Nodeops.gateway(cfg) as g:
            async def go():
                async with websockets.connect(ws_url(g)) as ws:
                    async def call(method, params, id):
                        await ws.send(json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
                        while True:
                            r = json.loads(await ws.recv())
                            if r.get("id") == id:
                                return r
                    ids = [(await call("eth_subscribe", ["newHeads"], 1))["result"],
                           (await call("eth_subscribe", ["newPendingTransactions"], 2))["result"]]
                    assert len(set(ids)) == 2 and all(i.startswith("0x") and len(i) >= 20 for i in ids)
                    refused = await call("eth_subscribe", ["newHeads"], 3)
                    assert refused["error"]["code"] == -32005, refused
                    assert "max_subscriptions_per_connection" in refused["error"]["message"]
                    assert (await call("eth_unsubscribe", [ids[0]], 4))["result"] is True
                    assert "result" in await call("eth_subscribe", ["logs", {"address": CONTRACT}], 5)
                    for params in (["syncing"], [], ["logs", {"address": "0x12"}], ["newPendingTransactions", True]):
                        r = await call("eth_subscribe", params, 6)
                        assert r["error"]["code"] in (-32602, -32005), r
                    bad = await call("eth_unsubscribe", [], 7)
                    assert bad["error"]["code"] == -32602
                    # In a batch: answered, not served.
                    await ws.send(json.dumps([{"jsonrpc": "2.0", "id": 8, "method": "eth_subscribe",
                                               "params": ["newHeads"]}]))
                    batch = json.loads(await ws.recv())
                    assert batch[0]["error"]["code"] == -32601 and "batch" in batch[0]["error"]["message"]
                    # Solana's methods belong to Solana chains.
                    assert (await call("slotSubscribe", [], 9))["error"]["code"] == -32601
            asyncio.run(go())
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_subscriptions_refused_total", chain="eth") >= 1
            wait_until("all ended", lambda: sum(
                metric_value(g.metrics(), "nodeops_gateway_subscriptions", chain="eth", kind=k) or 0
                for k in ("newHeads", "logs", "newPendingTransactions")) == 0, procs=[g])


def test_solana_slot_subscribe_follows_the_pools_slot(tmp_path):
    fixtures = REPO / "tests" / "fixtures" / "solana" / "healthy"
    ahead = tmp_path / "ahead"
    shutil.copytree(fixtures, ahead)
    slot = json.loads((fixtures / "getSlot.json").read_text())
    slot["result"] += 7
    (ahead / "getSlot.json").write_text(json.dumps(slot))
    height = json.loads((fixtures / "getBlockHeight.json").read_text())
    height["result"] += 7
    (ahead / "getBlockHeight.json").write_text(json.dumps(height))
    with FixtureServer(fixtures) as a:
        cfg = f"""listen: 127.0.0.1:{free_port()}
admin_listen: 127.0.0.1:{free_port()}
chains:
  - name: solana
    type: solana
    max_lag_blocks: 150
    health_interval: 200ms
    upstreams:
      - {{ name: a, url: "{a.url}" }}
"""
        with Nodeops.gateway(cfg) as g:
            sub = Subscriber(ws_url(g, "solana"), "slotSubscribe", [])
            assert isinstance(sub.id, int) and sub.id > 0
            a.set_scenario(ahead)
            wait_until("a slot notification", lambda: sub.results("slotNotification"), procs=[g])
            note = sub.results("slotNotification")[0]
            base = json.loads((fixtures / "getSlot.json").read_text())["result"]
            assert note["slot"] == base + 7 and note["parent"] == base, note
            assert sub.call("slotUnsubscribe", [sub.id], id=3)["result"] is True
            assert sub.call("eth_subscribe", ["newHeads"], id=4)["error"]["code"] == -32601
            sub.close()
