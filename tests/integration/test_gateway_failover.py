"""`nodeops gateway` health and failover against real anvil nodes and lying upstreams on loopback:
a killed node costs no failed read, a stalled node leaves rotation within two health intervals and
returns when it catches up, a node on another chain or with an absurd head is excluded without
excluding the honest ones, and a bad reply is never passed off as a success.

Run: PYTHONPATH=tests/support NODEOPS_BIN=build/release/nodeops python3 -m pytest tests/integration/test_gateway_failover.py
"""
import threading
import time

import pytest
import requests

from gateway_util import body, post, require_binaries
from harness import Anvil, Nodeops, gateway_config, metric_value, wait_until
from lying_upstream import ABSURD_HEAD, LIE, LyingUpstream

pytestmark = require_binaries()

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def node():
    with Anvil(chain_id=1) as a:
        yield a


def chain_status(g, chain="ethereum"):
    return next(c for c in g.status()["chains"] if c["name"] == chain)


def test_killed_upstream_costs_zero_failed_reads():
    anvils = [Anvil(chain_id=1) for _ in range(3)]
    try:
        ups = [(f"n{i}", a.url) for i, a in enumerate(anvils)]
        cfg = gateway_config({"ethereum": (1, ups)}, chain={"health_interval": "500ms"},
                             limits={"upstream_timeout": "2s", "request_timeout": "8s"})
        with Nodeops.gateway(cfg) as g:
            wait_until("three healthy upstreams", lambda: chain_status(g)["healthy"] == 3, procs=[g])
            replies, errors = [], []
            stop = threading.Event()

            def load():
                s = requests.Session()
                i = 0
                while not stop.is_set() and len(replies) < 2000:
                    call = body("eth_blockNumber", id=i) if i % 2 else body("eth_getBalance", [ADDR, "latest"], id=i)
                    try:
                        replies.append(post(g.url("/ethereum"), call, session=s).json())
                    except Exception as e:  # noqa: BLE001 - a transport error is a failed read too
                        errors.append(repr(e))
                    i += 1

            t = threading.Thread(target=load)
            t.start()
            wait_until("some load", lambda: len(replies) >= 50, timeout=10)
            anvils[1].proc.kill()
            killed_at = len(replies)
            time.sleep(2)  # two seconds of load after the kill: connections to it fail, calls are retried
            wait_until("load after the kill", lambda: len(replies) >= killed_at + 50, timeout=10)
            stop.set()
            t.join(timeout=20)
            failed = [r for r in replies if "result" not in r]
            assert not errors and not failed, (errors[:3], failed[:3], len(replies))
            u = g.upstream("ethereum", "n1")
            wait_until("n1 out of rotation", lambda: not g.upstream("ethereum", "n1")["healthy"])
            assert g.upstream("ethereum", "n1")["reason"].startswith("unreachable")
            assert chain_status(g)["healthy"] == 2
            assert u["requests_total"] > 0  # it did take traffic before it died
    finally:
        for a in anvils:
            a.stop()


def test_stalled_upstream_leaves_rotation_within_two_intervals_and_returns():
    interval = 1.0
    # The verdict needs one probe round after the blocks are mined: it starts at most one interval
    # later and takes a probe's time (milliseconds on loopback). Two intervals are the contract; the
    # slack covers this process polling /status and a busy CI machine.
    slack = 0.5
    max_lag = 3
    anvils = [Anvil(chain_id=1) for _ in range(3)]
    try:
        ups = [(f"n{i}", a.url) for i, a in enumerate(anvils)]
        cfg = gateway_config({"ethereum": (1, ups)}, chain={"health_interval": f"{int(interval * 1000)}ms",
                                                           "max_lag_blocks": max_lag})
        with Nodeops.gateway(cfg) as g:
            wait_until("three healthy upstreams", lambda: chain_status(g)["healthy"] == 3, procs=[g])
            stalled = anvils[2]
            stalled.pause_mining()
            for a in anvils[:2]:
                a.mine(max_lag + 5)
            mined_at = time.monotonic()
            u = wait_until("n2 lagging", lambda: (lambda u: not u["healthy"] and u)(g.upstream("ethereum", "n2")),
                           timeout=2 * interval + slack, interval=0.05)
            took = time.monotonic() - mined_at
            assert "lagging" in u["reason"], u
            assert took <= 2 * interval + slack
            assert chain_status(g)["healthy"] == 2
            assert metric_value(g.metrics(), "nodeops_gateway_upstream_healthy", chain="ethereum", upstream="n2") == 0
            assert metric_value(g.metrics(), "nodeops_gateway_upstream_lag_blocks", chain="ethereum",
                                upstream="n2") == max_lag + 5
            # Out of rotation means no traffic.
            before = g.upstream("ethereum", "n2")["requests_total"]
            for i in range(20):
                assert "result" in post(g.url("/ethereum"), body("eth_blockNumber", id=i)).json()
            assert g.upstream("ethereum", "n2")["requests_total"] == before
            # Catching up brings it back.
            stalled.mine(anvils[0].head() - stalled.head())
            wait_until("n2 back in rotation", lambda: g.upstream("ethereum", "n2")["healthy"],
                       timeout=2 * interval + slack + 5)
            assert g.upstream("ethereum", "n2")["reason"] == "ok"
            log = g.log()
            assert "upstream out of rotation" in log and "upstream joined rotation" in log
    finally:
        for a in anvils:
            a.stop()


def test_wrong_chain_id_is_excluded(node):
    with Anvil(chain_id=5) as other:
        cfg = gateway_config({"ethereum": (1, [("right", node.url), ("wrong", other.url)])})
        with Nodeops.gateway(cfg) as g:
            u = g.upstream("ethereum", "wrong")
            assert not u["healthy"] and "wrong chain id 5" in u["reason"], u
            assert g.upstream("ethereum", "right")["healthy"]
            for i in range(30):
                assert post(g.url("/ethereum"), body("eth_chainId", id=i)).json()["result"] == "0x1"
            assert g.upstream("ethereum", "wrong")["requests_total"] == 0


def test_absurd_head_does_not_evict_the_honest_nodes():
    with Anvil(chain_id=1) as a, Anvil(chain_id=1) as b:
        a.mine(2)
        b.mine(2)
        with LyingUpstream(a.url, absurd_head=True) as liar:
            ups = [("a", a.url), ("b", b.url), ("liar", liar.url)]
            with Nodeops.gateway(gateway_config({"ethereum": (1, ups)})) as g:
                c = chain_status(g)
                assert c["best_head"] == 2, c
                assert g.upstream("ethereum", "a")["healthy"] and g.upstream("ethereum", "b")["healthy"]
                u = g.upstream("ethereum", "liar")
                assert not u["healthy"] and "implausibly ahead" in u["reason"], u
                assert u["head"] == int(ABSURD_HEAD, 16)
                assert requests.get(g.url("/readyz"), timeout=5).status_code == 200
                for i in range(10):
                    assert post(g.url("/ethereum"), body("eth_blockNumber", id=i)).json()["result"] == "0x2"
                assert liar.calls == 0


BAD_MODES = ["html", "garbage", "empty", "wrong_id", "no_result", "http_500", "http_429", "close"]


@pytest.mark.parametrize("mode", BAD_MODES)
def test_bad_upstream_reply_is_retried_on_a_healthy_upstream(node, mode):
    with LyingUpstream(node.url, mode=mode) as liar:
        # Weight makes the liar the first choice, unless it is far slower than the honest node (the
        # selector weighs latency too): most calls meet it first, and every one must still succeed.
        ups = [("liar", liar.url, {"weight": 1000}), ("honest", node.url)]
        with Nodeops.gateway(gateway_config({"ethereum": (1, ups)})) as g:
            want = node.rpc("eth_getBalance", [ADDR, "latest"])["result"]
            for i in range(10):
                r = post(g.url("/ethereum"), body("eth_getBalance", [ADDR, "latest"], id=i))
                assert LIE not in r.text
                assert r.json() == {"jsonrpc": "2.0", "id": i, "result": want}
            assert liar.calls >= 1
            m = g.metrics()
            errors = sum(metric_value(m, "nodeops_gateway_upstream_errors_total", chain="ethereum", upstream="liar",
                                      reason=r) or 0 for r in ("connect", "timeout", "http_status", "bad_response"))
            if mode == "http_429":
                # "Too many requests" is a provider's plan, not a fault: counted apart, never an error
                # (the upstream is backed off instead; test_gateway_providers.py).
                assert errors == 0
                errors = metric_value(m, "nodeops_gateway_upstream_requests_total", chain="ethereum", upstream="liar",
                                      outcome="rate_limited")
            # Every call the liar got is a counted error (or 429) and a retry; none counted as ok.
            assert errors == liar.calls
            assert metric_value(m, "nodeops_gateway_upstream_requests_total", chain="ethereum", upstream="liar",
                                outcome="ok") == 0
            retries = sum(float(line.rpartition(" ")[2]) for line in m.splitlines()
                          if line.startswith("nodeops_gateway_retries_total{"))
            assert retries == liar.calls


@pytest.mark.parametrize("mode", ["html", "wrong_id", "http_500", "state_error"])
def test_bad_upstream_reply_alone_is_an_error_never_a_result(node, mode):
    with LyingUpstream(node.url, mode=mode) as liar:
        with Nodeops.gateway(gateway_config({"ethereum": (1, [("liar", liar.url)])})) as g:
            r = post(g.url("/ethereum"), body("eth_getBalance", [ADDR, "latest"], id="x"))
            assert LIE not in r.text
            reply = r.json()
            assert "result" not in reply and reply["id"] == "x"
            if mode == "state_error":
                # The node's own error is passed on once nobody else can answer.
                assert "missing trie node" in reply["error"]["message"]
            else:
                assert reply["error"]["code"] == -32011
                assert "liar" in reply["error"]["message"]
            m = g.metrics()
            # The series exists from the method's first call (every outcome at once), and stays 0.
            assert metric_value(m, "nodeops_gateway_requests_total", chain="ethereum", method="eth_getBalance",
                                outcome="ok") == 0


def test_state_error_is_retried_on_an_archive_node():
    with Anvil(chain_id=1) as full, Anvil(chain_id=1) as archive:
        with LyingUpstream(full.url, mode="state_error") as pruned:
            ups = [("pruned", pruned.url, {"weight": 1000}), ("full", full.url),
                   ("archive", archive.url, {"role": "archive", "weight": 0.001})]
            with Nodeops.gateway(gateway_config({"ethereum": (1, ups)})) as g:
                r = post(g.url("/ethereum"), body("eth_getBalance", [ADDR, "0x0"])).json()
                assert r["result"] == archive.rpc("eth_getBalance", [ADDR, "0x0"])["result"]
                assert pruned.calls == 1
                assert g.upstream("ethereum", "archive")["requests_total"] == 1
                assert g.upstream("ethereum", "full")["requests_total"] == 0
                assert metric_value(g.metrics(), "nodeops_gateway_retries_total", chain="ethereum",
                                    reason="state_unavailable") == 1


def test_no_healthy_upstream_is_32010():
    from harness import free_port
    dead = f"http://127.0.0.1:{free_port()}"
    with Nodeops.gateway(gateway_config({"down": (1, [("dead", dead)])})) as g:
        r = post(g.url("/down"), body("eth_chainId", id=3)).json()
        assert r["error"]["code"] == -32010 and r["id"] == 3
        # The process can serve (it answers, fast and clearly): pod readiness stays up; the chain's
        # own endpoint says it has nobody to serve it.
        assert requests.get(g.url("/readyz"), timeout=5).status_code == 200
        chain = requests.get(g.url("/readyz/down"), timeout=5)
        assert chain.status_code == 503 and chain.json()["healthy_upstreams"] == 0


def test_request_deadline_is_32012(node):
    with LyingUpstream(node.url, mode="proxy", delay=3) as slow:
        cfg = gateway_config({"slow": (1, [("slow", slow.url)])},
                             limits={"request_timeout": "1s", "upstream_timeout": "5s"})
        with Nodeops.gateway(cfg) as g:
            for i in range(3):
                t0 = time.monotonic()
                r = post(g.url("/slow"), body("eth_chainId", id=i)).json()
                took = time.monotonic() - t0
                assert "result" not in r and r["id"] == i and took < 2.5, (r, took)
                assert r["error"]["code"] == -32012, r
