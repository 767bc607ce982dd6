"""What the operator sees is true (issue 20), against the real gateway and real anvil nodes:
passive health ejects an upstream whose real calls fail although its probes pass, and brings it
back; the best head going backwards is counted and logged once; a burst of failures makes a
bounded number of log lines, with the line that matters present; connections over the cap are
closed and counted."""
from __future__ import annotations

import json
import socket
import time

from gateway_util import body, post, require_binaries
from harness import Anvil, Nodeops, gateway_config, metric_value, wait_until
from lying_upstream import LyingUpstream

pytestmark = require_binaries()


def log_lines(g, msg: str) -> list[dict]:
    out = []
    for line in g.log().splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("msg") == msg:
            out.append(doc)
    return out


def test_failing_calls_eject_an_upstream_whose_probes_pass_and_it_comes_back():
    with Anvil(chain_id=1) as node:
        with LyingUpstream(node.url, mode="http_500") as liar:
            cfg = gateway_config({"ethereum": (1, [("honest", node.url), ("liar", liar.url)])},
                                 chain={"health_interval": "200ms",
                                        "passive_health": "{ consecutive_failures: 3, cooldown: 2s }"})
            with Nodeops.gateway(cfg) as g:
                for i in range(40):
                    r = post(g.url("/ethereum"), body("eth_chainId", id=i)).json()
                    assert r["result"] == "0x1", r

                # With traffic flowing: once a cool-down has passed, only a call tells the breaker
                # whether to open again, so a slow machine must not see a stale half-open state.
                def ejected():
                    assert post(g.url("/ethereum"), body("eth_chainId")).json()["result"] == "0x1"
                    u = g.upstream("ethereum", "liar")
                    return u["state"] == "circuit_open" and u
                u = wait_until("liar ejected", ejected, procs=[g])
                assert not u["healthy"] and "circuit_open" in u["reason"]
                # Its probes pass all along: only real traffic took it out.
                assert liar.probes > 0
                calls_while_out = liar.calls
                for i in range(20):
                    assert post(g.url("/ethereum"), body("eth_chainId", id=i)).json()["result"] == "0x1"
                # Open: no calls, but the one trial call a passed cool-down allows.
                assert liar.calls - calls_while_out <= 1, "an open circuit must not be sent calls"
                # Fixed: after the cool-down one trial call succeeds and it is back in rotation.
                liar.mode = "proxy"

                def back():
                    post(g.url("/ethereum"), body("eth_chainId"))
                    return g.upstream("ethereum", "liar")["healthy"]
                # The cool-down doubled with each failed trial: wait out a few of them.
                wait_until("liar back in rotation", back, timeout=60, procs=[g])
                assert g.upstream("ethereum", "liar")["state"] == "healthy"


def test_the_best_head_going_backwards_is_counted_and_logged_once():
    with Anvil(chain_id=1) as lead, Anvil(chain_id=1) as behind:
        lead.mine(45)
        behind.mine(4)
        cfg = gateway_config({"ethereum": (1, [("lead", lead.url), ("behind", behind.url)])},
                             chain={"health_interval": "200ms", "max_lag_blocks": 2})
        with Nodeops.gateway(cfg) as g:
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_head_regressions_total", chain="ethereum") == 0
            assert metric_value(m, "nodeops_gateway_chain_head", chain="ethereum") >= 45
            lead.stop()  # the leader dies; the node 41 blocks behind is all that is left
            wait_until("regression counted",
                       lambda: metric_value(g.metrics(), "nodeops_gateway_head_regressions_total", chain="ethereum") == 1,
                       procs=[g])
            time.sleep(1)  # more rounds: still one regression, one line
            assert metric_value(g.metrics(), "nodeops_gateway_head_regressions_total", chain="ethereum") == 1
            lines = log_lines(g, "best head went backwards")
            assert len(lines) == 1 and lines[0]["from"] >= 45 and lines[0]["to"] <= 10, lines
            # The dead leader's head and lag are gone, not frozen at their last values.
            m = g.metrics()
            assert metric_value(m, "nodeops_gateway_upstream_head", upstream="lead") is None
            assert metric_value(m, "nodeops_gateway_upstream_lag_blocks", upstream="lead") is None
            u = g.upstream("ethereum", "lead")
            assert u["state"] == "down" and u["head"] is None and u["lag"] is None


def test_a_burst_of_failures_makes_a_bounded_number_of_log_lines():
    with Anvil(chain_id=1) as node:
        with LyingUpstream(node.url, mode="http_500") as liar:
            cfg = gateway_config({"ethereum": (1, [("liar", liar.url)])}, chain={"health_interval": "200ms"},
                                 limits={"max_attempts": 1})
            with Nodeops.gateway(cfg) as g:
                for i in range(300):
                    r = post(g.url("/ethereum"), body("eth_chainId", id=i)).json()
                    assert r["error"]["code"] == -32011, r
                failed = log_lines(g, "upstream call failed")
                # The first 8, then the 16th, 32nd, 64th, 128th and 256th: each with its count.
                assert len(failed) <= 8 + 5, len(failed)
                assert failed[-1]["occurrences"] == 256


def test_a_chain_that_loses_its_last_upstream_says_so_once_and_again_when_it_is_back():
    with Anvil(chain_id=1) as node:
        with LyingUpstream(node.url) as up:
            cfg = gateway_config({"ethereum": (1, [("only", up.url)])}, chain={"health_interval": "200ms"})
            with Nodeops.gateway(cfg) as g:
                up.backend = "http://127.0.0.1:1"  # its node is gone: probes fail
                wait_until("chain down logged", lambda: log_lines(g, "chain has no healthy upstream: its calls fail"),
                           procs=[g])
                for i in range(100):
                    assert post(g.url("/ethereum"), body("eth_chainId", id=i)).json()["error"]["code"] == -32010
                assert len(log_lines(g, "chain has no healthy upstream: its calls fail")) == 1
                # 100 failed calls: the first 8, then the 16th, 32nd and 64th.
                assert len(log_lines(g, "call failed: no healthy upstream")) == 11
                up.backend = node.url
                wait_until("chain back logged", lambda: log_lines(g, "chain has a healthy upstream again"), procs=[g])
                assert post(g.url("/ethereum"), body("eth_chainId")).json()["result"] == "0x1"


def test_connections_over_the_cap_are_closed_at_once_and_counted():
    with Anvil(chain_id=1) as node:
        cfg = gateway_config({"ethereum": (1, [("a", node.url)])}, limits={"max_connections": 4})
        with Nodeops.gateway(cfg) as g:
            host, port = g.listen.split(":")
            held = [socket.create_connection((host, int(port))) for _ in range(4)]
            try:
                time.sleep(0.3)
                extra = socket.create_connection((host, int(port)))
                extra.settimeout(5)
                assert extra.recv(1) == b"", "the connection over the cap is closed without an answer"
                extra.close()
                assert metric_value(g.metrics(), "nodeops_gateway_client_connections_refused_total") == 1
            finally:
                for s in held:
                    s.close()
            # Below the cap again: served.
            wait_until("served again", lambda: post(g.url("/ethereum"), body("eth_chainId")).json()["result"] == "0x1",
                       procs=[g])
