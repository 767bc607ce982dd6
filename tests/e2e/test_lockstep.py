"""The local stack's pools are real replicas: every anvil node of a chain starts from one genesis and
is mined in lockstep, so the nodes of a pool hold identical blocks — hashes included — at every
height, through a transaction, a lagging node, a forked node and a killed node.

One stack (conftest.py) without Prometheus and Alertmanager: the ethereum pool (3 nodes, a block a
second) and the polygon pool (2 nodes, a block every 2 s). The tests run in file order on it.
"""
import os
import signal
import subprocess

import pytest
import requests
from harness import NODEOPS_BIN
from local_stack import wait

STACK_OPTIONS = {"monitoring": False}
ETH = ["eth-a", "eth-b", "eth-c"]
POLYGON = ["polygon-a", "polygon-b"]
DEV_ACCOUNT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first dev account
RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def block(stack, name, height):
    reply = stack.node_rpc(name, "eth_getBlockByNumber", [hex(height), False])
    assert reply.get("result"), f"{name} has no block {height}: {reply}"
    return reply["result"]


def assert_same_chain(stack, names, upto=None):
    """Every node of `names` holds the same block at every height up to the lowest head (or `upto`)."""
    top = min(stack.node_head(n) for n in names) if upto is None else upto
    for h in range(top + 1):
        hashes = {n: block(stack, n, h)["hash"] for n in names}
        assert len(set(hashes.values())) == 1, f"height {h}: {hashes}"
    return top


def heads(stack, names):
    return {n: stack.node_head(n) for n in names}


def wait_same_head(stack, names, timeout=20):
    """Until every node holds the same block at the height the pool has now (a restarted node at
    genesis does not count as caught up)."""
    def head_or_none(name):
        try:
            return stack.node_head(name)
        except (requests.RequestException, KeyError, ValueError):
            return None  # restarting
    height = max(h for h in map(head_or_none, names) if h is not None)

    def same():
        return len({stack.block_hash(n, height) for n in names} - {None}) == 1 and all(
            stack.block_hash(n, height) for n in names)
    wait(f"{names} holding one block at {height}", same, timeout, interval=0.3, stack=stack)
    return height


def test_pool_nodes_hold_identical_blocks(stack):
    wait("5 ethereum blocks", lambda: min(heads(stack, ETH).values()) >= 5, 30, stack=stack)
    wait("3 polygon blocks", lambda: min(heads(stack, POLYGON).values()) >= 3, 30, stack=stack)
    assert assert_same_chain(stack, ETH) >= 5
    assert assert_same_chain(stack, POLYGON) >= 3
    # One genesis per run, and block k carries genesis + k * block_time on every node.
    genesis = int(block(stack, "eth-a", 0)["timestamp"], 16)
    assert int(block(stack, "polygon-a", 0)["timestamp"], 16) == genesis
    assert int(block(stack, "eth-b", 4)["timestamp"], 16) == genesis + 4
    assert int(block(stack, "polygon-b", 3)["timestamp"], 16) == genesis + 6
    # The gateway sees one chain: every upstream healthy.
    status = stack.status()
    assert all(u["healthy"] for c in status["chains"] for u in c["upstreams"]), status


@pytest.fixture(scope="module")
def transaction(stack):
    """A transaction signed by a dev account on eth-a and sent through the gateway; returns the
    block number and hash it was mined in, once every node has it."""
    tx = {"from": DEV_ACCOUNT, "to": RECIPIENT, "value": "0x1", "gas": "0x5208",
          "nonce": stack.node_rpc("eth-a", "eth_getTransactionCount", [DEV_ACCOUNT, "pending"])["result"]}
    raw = stack.node_rpc("eth-a", "eth_signTransaction", [tx])["result"]
    sent = stack.rpc("ethereum", "eth_sendRawTransaction", [raw])
    assert "result" in sent, sent
    tx_hash = sent["result"]

    def mined_everywhere():
        receipts = [stack.node_rpc(n, "eth_getTransactionReceipt", [tx_hash]).get("result") for n in ETH]
        return all(receipts) and receipts
    receipts = wait("the transaction mined on every node", mined_everywhere, 30, interval=0.3, stack=stack)
    return tx_hash, receipts


def test_a_transaction_is_in_the_same_block_on_every_node(stack, transaction):
    tx_hash, receipts = transaction
    # Whichever node the gateway gave it to, the pool mines it in one block: the same everywhere.
    wait("one block for it everywhere", lambda: len({(r["blockNumber"], r["blockHash"]) for r in (
        stack.node_rpc(n, "eth_getTransactionReceipt", [tx_hash])["result"] for n in ETH)}) == 1, 10, stack=stack)
    wait_same_head(stack, ETH)
    assert_same_chain(stack, ETH)
    assert stack.rpc("ethereum", "eth_getTransactionReceipt", [tx_hash])["result"]["status"] == "0x1"


def test_a_paused_node_lags_then_catches_up_on_the_same_chain(stack, transaction):
    stack.stop_mining("eth-c")
    stopped = stack.node_head("eth-c")
    wait("eth-a 4 blocks ahead of the paused eth-c", lambda: stack.node_head("eth-a") >= stopped + 4, 20, stack=stack)
    assert stack.node_head("eth-c") <= stopped + 1  # a tick may have been under way
    out = subprocess.run([str(NODEOPS_BIN), "status", "--state-dir", str(stack.state_dir)], capture_output=True,
                         text=True, timeout=10).stdout
    assert "(paused)" in next(line for line in out.splitlines() if line.startswith("eth-c")), out
    wait("the gateway sees eth-c lagging", lambda: not stack.upstream("ethereum", "eth-c")["healthy"], 20, stack=stack)

    assert stack.catch_up("eth-c", "eth-a") >= 3
    wait_same_head(stack, ETH)
    assert_same_chain(stack, ETH)
    wait("eth-c back in rotation", lambda: stack.upstream("ethereum", "eth-c")["healthy"], 20, stack=stack)


def test_a_forked_node_has_other_hashes_at_the_same_heights_until_resumed(stack, transaction):
    """The first node of the pool forks: the one the others follow at equal heights. Resumed, it
    rejoins the others' chain — the fork must not pull them onto it."""
    tx_hash, _ = transaction
    restarts = stack.child("eth-a")["restarts"]
    stack.node_command("fork", "eth-a")
    forked_at = stack.node_head("eth-a")
    wait("3 blocks on the fork", lambda: stack.node_head("eth-a") >= forked_at + 3, 20, stack=stack)
    h = forked_at + 2
    canonical = block(stack, "eth-b", h)["hash"]
    assert block(stack, "eth-a", h)["hash"] != canonical
    assert block(stack, "eth-c", h)["hash"] == canonical
    # Same height as the pool (within a tick): a fork, not a lag.
    assert abs(stack.node_head("eth-a") - stack.node_head("eth-b")) <= 1

    out = stack.node_command("resume", "eth-a")
    assert "restarted" in out, out
    wait("eth-a restarted", lambda: stack.child("eth-a")["restarts"] == restarts + 1
         and stack.child("eth-a")["state"] == "running", 20, stack=stack)
    wait_same_head(stack, ETH, timeout=30)
    assert_same_chain(stack, ETH)
    assert block(stack, "eth-a", h)["hash"] == canonical
    assert stack.node_rpc("eth-a", "eth_getTransactionReceipt", [tx_hash])["result"]["status"] == "0x1"


def test_a_killed_node_comes_back_on_the_same_chain(stack, transaction):
    tx_hash, _ = transaction
    # The first node of the pool: the one the others follow at equal heights.
    old = stack.child("eth-a")
    os.kill(old["pid"], signal.SIGKILL)
    wait("eth-a restarted", lambda: stack.child("eth-a")["pid"] not in (old["pid"], -1), 20, stack=stack)
    # anvil keeps its chain in memory: back at genesis, then replayed from its peers.
    wait_same_head(stack, ETH, timeout=30)
    assert_same_chain(stack, ETH)
    assert stack.node_rpc("eth-a", "eth_getTransactionReceipt", [tx_hash])["result"]["status"] == "0x1"
    wait("every ethereum upstream healthy",
         lambda: all(stack.upstream("ethereum", n)["healthy"] for n in ETH), 20, stack=stack)
    # The polygon pool went on undisturbed.
    assert_same_chain(stack, POLYGON)


def test_node_command_errors(stack, tmp_path):
    def run(*args):
        return subprocess.run([str(NODEOPS_BIN), "node", *args], capture_output=True, text=True, timeout=10)
    out = run("pause", "eth-z", "--state-dir", str(stack.state_dir))
    assert out.returncode == 2 and "no node 'eth-z'" in out.stderr and "eth-a" in out.stderr, out.stderr
    out = run("pause", "eth-a", "--state-dir", str(tmp_path))
    assert out.returncode == 1 and "no stack is running" in out.stderr, out.stderr
