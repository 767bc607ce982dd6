"""Every way an upstream can misbehave (tests/support/fault_upstream.py), against the real gateway
and the real exporter: neither crashes nor hangs, the faulty upstream leaves rotation with a state
that says why (metrics and /status), and every client call is answered by the honest upstream
within the request deadline."""
from __future__ import annotations

import json
import time

import pytest
import requests

from fault_upstream import CONTENT_FAULTS, FAULTS, HTTP_FAULTS, FaultUpstream
from gateway_util import body, post, require_binaries
from harness import Anvil, Nodeops, free_port, gateway_config, metric_value, wait_until

pytestmark = require_binaries()

# Faults a probe can see; "redirect" and "storm_1xx" included. "huge" is 65 MiB per probe: kept to
# the call scope, where the gateway must refuse it without buffering.
PROBE_FAULTS = [f for f in FAULTS if f not in ("huge", "flapping")]
CALL_FAULTS = list(FAULTS)


@pytest.fixture(scope="module")
def node():
    with Anvil(chain_id=1, block_time=1) as a:
        yield a


def fleet(node, faults, scope):
    ups = [FaultUpstream(node.url, f, scope) for f in faults]
    return ups, [(f.replace("_", "-"), u.url) for f, u in zip(faults, ups)]


def states(metrics_text: str, upstream: str) -> set[str]:
    out = set()
    for line in metrics_text.splitlines():
        if line.startswith("nodeops_gateway_upstream_state{") and f'upstream="{upstream}"' in line and line.endswith(" 1"):
            out.add(line.split('state="')[1].split('"')[0])
    return out


def test_probe_faults_take_the_upstream_out_with_a_state_and_clients_never_notice(node):
    ups, named = fleet(node, PROBE_FAULTS, "probe")
    try:
        cfg = gateway_config({"eth": (1, [("honest", node.url)] + named)},
                             chain={"health_interval": "300ms"},
                             limits={"upstream_timeout": "1s", "request_timeout": "5s"})
        with Nodeops.gateway(cfg) as g:
            # Two health intervals after the probes answered, every faulty upstream is out.
            def all_out():
                m = g.metrics()
                return all(states(m, n) and not states(m, n) & {"healthy", "not_probed"} for n, _ in named) and m
            m = wait_until("faulty upstreams out of rotation", all_out, timeout=20, procs=[g])
            st = g.status()
            eth = st["chains"][0]
            for name, _ in named:
                u = next(x for x in eth["upstreams"] if x["name"] == name)
                assert not u["healthy"], (name, u)
                assert u["state"] in ("down", "bad_response", "wrong_chain", "syncing"), (name, u)
                assert u["reason"], name
                # No stale head for a node without a trustworthy one.
                if u["state"] in ("down", "bad_response"):
                    assert u["head"] is None and u["lag"] is None, (name, u)
                    assert metric_value(m, "nodeops_gateway_upstream_head", upstream=name) is None, name
            assert states(m, "honest") == {"healthy"}
            for i in range(30):
                r = post(g.url("/eth"), body("eth_blockNumber", id=i), timeout=6)
                assert r.status_code == 200 and "result" in r.json(), r.text
            g.assert_alive()
    finally:
        for u in ups:
            u.close()


# Five faulty upstreams beside the honest one per gateway, so max_attempts (at most 10) reaches it.
CALL_GROUPS = [CALL_FAULTS[i:i + 5] for i in range(0, len(CALL_FAULTS), 5)]


@pytest.mark.parametrize("faults", CALL_GROUPS, ids=["-".join(g[:2]) for g in CALL_GROUPS])
def test_call_faults_are_retried_elsewhere_and_passive_health_ejects_the_upstream(node, faults):
    ups, named = fleet(node, faults, "calls")
    try:
        cfg = gateway_config({"eth": (1, [("honest", node.url)] + named)},
                             chain={"health_interval": "500ms",
                                    "passive_health": "{ consecutive_failures: 2, cooldown: 60s }"},
                             limits={"upstream_timeout": "1s", "request_timeout": "30s",
                                     "max_attempts": len(named) + 1})
        with Nodeops.gateway(cfg) as g:
            balance = node.rpc("eth_getBalance", ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest"])["result"]
            for i in range(20):
                t0 = time.monotonic()
                r = post(g.url("/eth"), body("eth_getBalance", ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                                                                "latest"], id=i), timeout=35)
                assert r.status_code == 200, r.text
                doc = r.json()
                # The honest answer, never a mangled one, under the client's id.
                assert doc == {"jsonrpc": "2.0", "id": i, "result": balance}, r.text
                assert time.monotonic() - t0 < 30
            # Content faults and the fast HTTP faults fail every call; the slow ones may not have
            # been picked twice yet, and flapping answers well half of the time. The breaker opens
            # at once; the state is published with the next health round.
            must = {f.replace("_", "-") for f in faults
                    if f in CONTENT_FAULTS + ("truncated", "reset", "html", "broken_chunked", "storm_1xx", "redirect")}

            def ejected():
                m = g.metrics()
                return must <= {n for n, _ in named if states(m, n) & {"circuit_open", "failing_calls"}}
            wait_until("faulty upstreams ejected by passive health", ejected, timeout=10, procs=[g])
            for name in must:
                assert g.upstream("eth", name)["state"] in ("circuit_open", "failing_calls")
            g.assert_alive()
    finally:
        for u in ups:
            u.close()


def test_the_exporter_survives_every_fault_and_marks_the_target_not_ready(node, tmp_path):
    ups, named = fleet(node, PROBE_FAULTS, "both")
    port = free_port()
    args = ["exporter", "--listen", f"127.0.0.1:{port}", "--interval", "300ms", "--target", f"honest:evm={node.url}"]
    for name, url in named:
        args += ["--target", f"{name}:evm={url}"]
    try:
        with Nodeops("exporter", args) as exp:
            url = f"http://127.0.0.1:{port}"

            # A decimal number is a valid quantity to the exporter (some clients answer so); with
            # no expected chain id, a node saying 12345 everywhere looks like a synced node.
            judged = [n for n, _ in named if n != "result-number"]

            def scraped():
                m = requests.get(url + "/metrics", timeout=5).text
                ready = {n: metric_value(m, "nodeops_node_ready", target=n) for n in judged}
                return all(v == 0 for v in ready.values()) and metric_value(m, "nodeops_node_ready", target="honest") == 1 and m
            wait_until("exporter verdicts", scraped, timeout=20, procs=[exp])
            for name in judged:
                r = requests.get(url + f"/ready?target={name}", timeout=5)
                assert r.status_code == 503, (name, r.text)
            # It keeps probing and answering for a while: no crash, no hang.
            time.sleep(2)
            assert requests.get(url + "/ready?target=honest", timeout=5).status_code == 200
            exp.assert_alive()
    finally:
        for u in ups:
            u.close()
