"""Filters through a pool of real anvil replicas mined in lockstep (issue 18 item 1): the gateway
holds eth_newFilter / eth_newBlockFilter itself, so a filter keeps working whichever node dies;
a reorg gives the removed logs back with "removed": true before the new ones; filters expire when
nobody polls them; a client's filters are capped. Pending-transaction filters get every hash
sent after them from the gateway's pending feed, also once the node holding its upstream filter is
killed. And a real client library (ethers v6, contract.on over HTTP polling) receives every event
exactly once while a node is killed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading

import pytest

from gateway_util import CAST_BIN, DEV_KEY, body, post, require_binaries
from harness import REPO, Nodeops, gateway_config, metric_value, wait_until
from test_consistency import GENESIS, Replica, signed

pytestmark = require_binaries()

# keccak256("Ping(uint256)"): the event the test contract emits.
PING = "0x48257dc961b6f792c2b78a080dacfed693b660960a702de21cee364e20270e2f"
# Runtime: CALLDATACOPY(0, 0, CALLDATASIZE); LOG1(0, CALLDATASIZE, PING); STOP — every call emits
# Ping with the call's data. The init code copies the 44 runtime bytes out and returns them.
RUNTIME = "3660006000377f" + PING[2:] + "366000a100"
INIT = "0x602c600c600039602c6000f3" + RUNTIME
# The first contract of anvil's first dev account (nonce 0).
CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
ETHERS = REPO / ".tools" / "node_modules" / "ethers"


class Pool:
    """Replicas of one chain: transactions go to every live one, blocks are mined in lockstep."""

    def __init__(self, n: int):
        self.replicas = [Replica() for _ in range(n)]
        self.alive = list(self.replicas)
        self.height = 0
        self.nonce = 0

    def upstreams(self):
        return [(f"r{i}", r.url) for i, r in enumerate(self.replicas)]

    def send(self, data: str, to: str | None = None) -> str:
        args = [CAST_BIN, "mktx", "--private-key", DEV_KEY, "--chain", "1", "--nonce", str(self.nonce),
                "--gas-limit", "200000", "--gas-price", "2000000000", "--priority-gas-price", "1000000000"]
        args += ["--create", data] if to is None else [to, data]
        raw = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        hashes = {r.call("eth_sendRawTransaction", [raw]).get("result") for r in self.alive}
        assert len(hashes) == 1 and None not in hashes, hashes
        self.nonce += 1
        return hashes.pop()

    def ping(self, n: int) -> str:
        return self.send("0x" + f"{n:064x}", to=CONTRACT)

    def mine(self, offset: int = 0) -> str:
        """One block on every live replica (same timestamp: same block); its hash."""
        self.height += 1
        for r in self.alive:
            r.call("evm_mine", [GENESIS + 12 * self.height + offset])
        hashes = {r.call("eth_getBlockByNumber", [hex(self.height), False])["result"]["hash"] for r in self.alive}
        assert len(hashes) == 1, f"replicas forked at {self.height}: {hashes}"
        return hashes.pop()

    def deploy(self) -> None:
        self.send(INIT)
        self.mine()
        assert self.alive[0].call("eth_getCode", [CONTRACT, "latest"])["result"] == "0x" + RUNTIME

    def kill(self, i: int) -> None:
        self.replicas[i].stop()
        self.alive.remove(self.replicas[i])

    def stop(self) -> None:
        for r in self.replicas:
            r.stop()


def call(g, method, params=None):
    r = post(g.url("/eth"), body(method, params if params is not None else []))
    return r.json()


def collect(g, fid: str, count: int, what: str) -> list:
    """Polls a filter until `count` changes have arrived (in as many polls as it takes)."""
    got, errors = [], []

    def enough():
        r = call(g, "eth_getFilterChanges", [fid])
        if "result" not in r:
            errors.append(r)
            return False
        got.extend(r["result"])
        return len(got) >= count

    wait_until(f"{what}: {count} changes (have {len(got)}; errors {errors[-1:]})", enough, timeout=30, procs=[g])
    return got


def pings_of(logs) -> list[int]:
    return [int(l["data"], 16) for l in logs]


def test_filters_keep_working_while_the_nodes_under_them_die():
    pool = Pool(3)
    try:
        pool.deploy()
        cfg = gateway_config({"eth": (1, pool.upstreams())}, chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            blocks = call(g, "eth_newBlockFilter")["result"]
            logs = call(g, "eth_newFilter", [{"address": CONTRACT, "topics": [PING]}])["result"]
            other = call(g, "eth_newFilter", [{"address": CONTRACT, "topics": [PING, PING]}])["result"]
            assert blocks != logs and all(len(i) > 18 and i.startswith("0x") for i in (blocks, logs))
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_filters", chain="eth", kind="block") == 1
            assert metric_value(m, "nodeops_gateway_filters", chain="eth", kind="logs") == 2
            wait_until("the follower runs", lambda: metric_value(g.metrics(), "nodeops_gateway_follower_running",
                                                                 chain="eth") == 1, procs=[g])
            # The follower starts from the head it sees when the first filter comes (block 1).
            wait_until("the follower holds the head",
                       lambda: metric_value(g.metrics(), "nodeops_gateway_follower_head", chain="eth") == 1, procs=[g])
            mined, txs, seen_blocks, seen_logs = [], [], [], []
            for n in range(1, 10):
                txs.append(pool.ping(n))
                if n % 3 == 0:
                    txs.append(pool.ping(100 + n))  # two events in one block
                mined.append(pool.mine())
                if n == 3:
                    pool.kill(0)  # the first node goes, then the second: whichever served the filters
                if n == 6:
                    pool.kill(1)
                if n in (2, 5, 8):  # polled along the way too, not only at the end
                    seen_blocks += call(g, "eth_getFilterChanges", [blocks])["result"]
                    seen_logs += call(g, "eth_getFilterChanges", [logs])["result"]
            expected = []
            for n in range(1, 10):
                expected.append(n)
                if n % 3 == 0:
                    expected.append(100 + n)
            # Every block once, in order; every event once, in order, in its block.
            seen_blocks += collect(g, blocks, len(mined) - len(seen_blocks), "block hashes")
            assert seen_blocks == mined
            all_logs = seen_logs + collect(g, logs, len(expected) - len(seen_logs), "logs")
            assert pings_of(all_logs) == expected
            assert [l["transactionHash"] for l in all_logs] == txs
            assert all(l["removed"] is False and l["blockHash"] in mined for l in all_logs)
            assert call(g, "eth_getFilterChanges", [logs])["result"] == []
            assert call(g, "eth_getFilterChanges", [blocks])["result"] == []
            assert call(g, "eth_getFilterChanges", [other])["result"] == []  # topics [PING, PING] match nothing
            # eth_getFilterLogs: the whole range of the criteria (fromBlock defaults to latest on
            # geth; the criteria here cover every block).
            full = call(g, "eth_newFilter", [{"address": CONTRACT, "fromBlock": "0x0", "toBlock": "latest"}])["result"]
            everything = call(g, "eth_getFilterLogs", [full])["result"]
            assert pings_of(everything) == expected
            assert call(g, "eth_getFilterLogs", [blocks])["error"] == {"code": -32000, "message": "filter not found"}
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_filter_polls_total", chain="eth", kind="logs") >= 2
            assert metric_value(m, "nodeops_gateway_follower_head", chain="eth") == 10
            assert metric_value(m, "nodeops_gateway_follower_reorgs_total", chain="eth") == 0
    finally:
        pool.stop()


def test_a_reorg_gives_the_removed_logs_back_then_the_new_ones():
    pool = Pool(2)
    try:
        pool.deploy()
        cfg = gateway_config({"eth": (1, pool.upstreams())}, chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            logs = call(g, "eth_newFilter", [{"address": CONTRACT}])["result"]
            blocks = call(g, "eth_newBlockFilter")["result"]
            wait_until("the follower holds the head",
                       lambda: metric_value(g.metrics(), "nodeops_gateway_follower_head", chain="eth") == 1, procs=[g])
            snapshots = [r.call("evm_snapshot")["result"] for r in pool.alive]
            old_tx = pool.ping(1)
            old_block = pool.mine()
            first = collect(g, logs, 1, "the first log")
            assert [(l["transactionHash"], l["blockHash"], l["removed"]) for l in first] == [(old_tx, old_block, False)]
            assert collect(g, blocks, 1, "the first block") == [old_block]
            # Both replicas go back to block 1 and mine another block 2 (another timestamp, another
            # transaction): the chain the gateway delivered logs from is gone.
            for r, snap in zip(pool.alive, snapshots):
                assert r.call("evm_revert", [snap])["result"] is True
                r.call("anvil_dropAllTransactions")
            pool.height, pool.nonce = 1, 1
            new_tx = pool.ping(2)
            new_block = pool.mine(offset=5)
            assert new_block != old_block
            changes = collect(g, logs, 2, "the reorg")
            assert [(l["transactionHash"], l["blockHash"], l["removed"], int(l["data"], 16)) for l in changes] == [
                (old_tx, old_block, True, 1), (new_tx, new_block, False, 2)]
            assert collect(g, blocks, 1, "the new block") == [new_block]
            # The chain goes on from the new block.
            third = pool.ping(3)
            pool.mine()
            more = collect(g, logs, 1, "after the reorg")
            assert [(l["transactionHash"], l["removed"]) for l in more] == [(third, False)]
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_follower_reorgs_total", chain="eth") == 1
            assert metric_value(m, "nodeops_gateway_follower_removed_blocks_total", chain="eth") == 1
    finally:
        pool.stop()


def test_a_filter_nobody_polls_expires_and_the_follower_stops():
    pool = Pool(1)
    try:
        cfg = gateway_config({"eth": (1, pool.upstreams())}, chain={"health_interval": "200ms"},
                             filters="{ timeout: 1s }")
        with Nodeops.gateway(cfg) as g:
            kept = call(g, "eth_newBlockFilter")["result"]
            left = call(g, "eth_newBlockFilter")["result"]
            wait_until("the follower runs", lambda: metric_value(g.metrics(), "nodeops_gateway_follower_running",
                                                                 chain="eth") == 1, procs=[g])
            # One is polled more often than the timeout, for longer than the timeout: it stays.
            wait_until("the unpolled filter expired",
                       lambda: call(g, "eth_getFilterChanges", [kept]).get("result") == [] and
                       metric_value(g.metrics(), "nodeops_gateway_filters_expired_total", chain="eth") == 1,
                       interval=0.2, procs=[g])
            assert call(g, "eth_getFilterChanges", [left])["error"] == {"code": -32000, "message": "filter not found"}
            assert call(g, "eth_uninstallFilter", [left])["result"] is False
            assert "result" in call(g, "eth_getFilterChanges", [kept])
            # The last one goes too: an idle gateway follows no chain.
            wait_until("the follower stopped",
                       lambda: metric_value(g.metrics(), "nodeops_gateway_follower_running", chain="eth") == 0,
                       timeout=10, procs=[g])
            assert metric_value(g.metrics(), "nodeops_gateway_filters", chain="eth", kind="block") == 0
            assert call(g, "eth_getFilterChanges", [kept])["error"]["code"] == -32000
            assert "block follower stopped" in g.log()
    finally:
        pool.stop()


def test_filters_are_capped_per_client_and_unknown_ids_are_not_found():
    pool = Pool(1)
    try:
        cfg = gateway_config({"eth": (1, pool.upstreams())}, filters="{ max_per_client: 3, max_total: 10 }")
        with Nodeops.gateway(cfg) as g:
            ids = [call(g, "eth_newBlockFilter")["result"],
                   call(g, "eth_newPendingTransactionFilter")["result"],
                   call(g, "eth_newFilter", [{}])["result"]]
            refused = call(g, "eth_newBlockFilter")
            assert refused["error"]["code"] == -32005 and "max_per_client" in refused["error"]["message"], refused
            assert metric_value(g.metrics(), "nodeops_gateway_filters_refused_total", chain="eth", reason="per_client") == 1
            assert call(g, "eth_getFilterChanges", [ids[1]])["result"] == []  # pending: nothing was sent
            assert call(g, "eth_uninstallFilter", [ids[0]])["result"] is True
            assert call(g, "eth_uninstallFilter", [ids[0]])["result"] is False
            assert "result" in call(g, "eth_newBlockFilter")
            for bad in (["0x1234"], ["0x" + "f" * 32], []):
                r = call(g, "eth_getFilterChanges", bad)
                assert r["error"]["code"] in (-32000, -32602), r
            assert call(g, "eth_getFilterChanges", ["0xdeadbeef"])["error"] == {"code": -32000, "message": "filter not found"}
            bad = call(g, "eth_newFilter", [{"address": "0x12"}])
            assert bad["error"]["code"] == -32602 and "address" in bad["error"]["message"]
            # The ids are not guessable: 16 random bytes.
            assert len({i for i in ids}) == 3 and all(len(i) >= 20 for i in ids)
    finally:
        pool.stop()


def test_ethers_contract_on_receives_every_event_once_while_a_node_is_killed():
    node = shutil.which("node")
    if not node or not ETHERS.is_dir():
        if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
            pytest.fail("node and ethers (make bootstrap) are required")
        pytest.skip("node or ethers missing")
    pool = Pool(2)
    try:
        pool.deploy()
        cfg = gateway_config({"eth": (1, pool.upstreams())}, chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            watcher = subprocess.Popen([node, str(REPO / "tests" / "e2e" / "js" / "watch_events.js"), g.url("/eth"),
                                        CONTRACT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, env={**os.environ, "ETHERS_PATH": str(ETHERS)})
            lines: list[dict] = []
            reader = threading.Thread(target=lambda: [lines.append(json.loads(l)) for l in watcher.stdout if l.strip()],
                                      daemon=True)
            reader.start()
            try:
                wait_until("ethers installed its filter",
                           lambda: metric_value(g.metrics(), "nodeops_gateway_filters", chain="eth", kind="logs") == 1
                           and any(l.get("ready") for l in lines), procs=[g])
                # ethers notices blocks by polling eth_blockNumber; its first poll only takes note of
                # the head. Two more polls: it is watching before the first event's block exists.
                numbers = lambda: metric_value(g.metrics(), "nodeops_gateway_requests_total",  # noqa: E731
                                               chain="eth", method="eth_blockNumber", outcome="ok") or 0
                start = numbers()
                wait_until("ethers polls the head", lambda: numbers() >= start + 2, procs=[g])
                events = lambda: [l for l in lines if "n" in l]  # noqa: E731
                sent = []
                for n in range(1, 9):
                    sent.append(pool.ping(n))
                    pool.mine()
                    wait_until(f"ethers saw event {n}", lambda n=n: len(events()) >= n, timeout=30, procs=[g])
                    if n == 4:
                        pool.kill(0)  # one of the two nodes dies mid-way
                # A few more blocks, each polled for: nothing more may arrive.
                polls = lambda: metric_value(g.metrics(), "nodeops_gateway_filter_polls_total",  # noqa: E731
                                             chain="eth", kind="logs")
                for _ in range(3):
                    before = polls()
                    pool.mine()
                    wait_until("ethers polled the filter again", lambda before=before: polls() > before, procs=[g])
            finally:
                watcher.stdin.close()
                try:
                    watcher.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    watcher.kill()
                reader.join(timeout=5)
            got = [l for l in lines if "n" in l]
            assert [int(l["n"]) for l in got] == list(range(1, 9)), (got, watcher.stderr.read()[-2000:])
            assert [l["tx"] for l in got] == sent
            assert not any(l["removed"] for l in got)
            assert any(l.get("done") for l in lines)
            assert call(g, "eth_blockNumber")["result"] == hex(pool.height)
    finally:
        pool.stop()


def feed_holders(g) -> list[tuple[str, bool]]:
    """(upstream, restart) of each time the pending feed installed its upstream filter (its log)."""
    out = []
    for line in g.log().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "pending-transaction feed installed its upstream filter":
            out.append((entry["upstream"], entry["restart"]))
    return out


def test_pending_transaction_filters_get_every_hash_while_the_node_holding_the_feed_dies():
    pool = Pool(2)  # --no-mining: the transactions stay pending
    try:
        cfg = gateway_config({"eth": (1, pool.upstreams())}, chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            assert "pending-transaction feed started" not in g.log(), "no feed before anyone reads it"
            first = call(g, "eth_newPendingTransactionFilter")["result"]
            second = call(g, "eth_newPendingTransactionFilter")["result"]
            assert metric_value(g.metrics(), "nodeops_gateway_filters", chain="eth", kind="pending") == 2
            # The reply came once the feed held its upstream filter: what is sent now is seen.
            holders = feed_holders(g)
            assert len(holders) == 1 and holders[0][1] is False, holders
            nonce = 0

            def send_raw(n: int) -> list[str]:
                nonlocal nonce
                out = []
                for _ in range(n):
                    r = post(g.url("/eth"), body("eth_sendRawTransaction", [signed(nonce)])).json()
                    assert "result" in r, r
                    out.append(r["result"])
                    nonce += 1
                return out

            before = send_raw(4)
            got = collect(g, first, len(before), "pending before the kill")
            assert sorted(got) == sorted(before) and len(got) == len(before), (got, before)
            # The node holding the feed's filter goes; the feed installs one on the other node.
            holder = int(holders[0][0][1:])
            pool.kill(holder)
            wait_until("the pending feed restarted", lambda: len(feed_holders(g)) == 2, procs=[g])
            assert feed_holders(g)[1] == (f"r{1 - holder}", True)
            wait_until("the restart counted", lambda: metric_value(
                g.metrics(), "nodeops_gateway_subscription_feed_restarts_total", chain="eth", feed="pending") == 1,
                procs=[g])
            after = send_raw(3)
            got_after = collect(g, first, len(after), "pending after the kill")
            assert sorted(got_after) == sorted(after) and len(got_after) == len(after), (got_after, after)
            # The other filter was not polled all along: it holds every hash, each once.
            rest = call(g, "eth_getFilterChanges", [second])["result"]
            assert sorted(rest) == sorted(before + after), rest
            assert call(g, "eth_getFilterChanges", [second])["result"] == []
            # Nobody reads pending transactions any more: the feed stops (and removes its filter).
            for fid in (first, second):
                assert call(g, "eth_uninstallFilter", [fid])["result"] is True
            wait_until("the pending feed stopped", lambda: "pending-transaction feed stopped" in g.log(), procs=[g])
            assert metric_value(g.metrics(), "nodeops_gateway_filters", chain="eth", kind="pending") == 0
    finally:
        pool.stop()
