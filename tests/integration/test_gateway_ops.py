"""`nodeops gateway` as operators see it: /metrics (promtool-clean, the documented families),
/readyz and /healthz, /status, JSON log lines, and SIGTERM draining in-flight requests.

Run: PYTHONPATH=tests/support NODEOPS_BIN=build/release/nodeops python3 -m pytest tests/integration/test_gateway_ops.py
"""
import json
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests

from gateway_util import body, post, require_binaries
from harness import Anvil, Nodeops, free_port, gateway_config, metric_value, wait_until
from lying_upstream import LyingUpstream

pytestmark = require_binaries()

# docs/interfaces.md, "Gateway (nodeops_gateway_*)": family -> type.
FAMILIES = {
    "nodeops_gateway_requests_total": "counter",
    "nodeops_gateway_request_duration_seconds": "histogram",
    "nodeops_gateway_upstream_requests_total": "counter",
    "nodeops_gateway_upstream_errors_total": "counter",
    "nodeops_gateway_upstream_request_duration_seconds": "histogram",
    "nodeops_gateway_upstream_head": "gauge",
    "nodeops_gateway_upstream_lag_blocks": "gauge",
    "nodeops_gateway_upstream_healthy": "gauge",
    "nodeops_gateway_upstream_info": "gauge",
    "nodeops_gateway_chain_head": "gauge",
    "nodeops_gateway_chain_healthy_upstreams": "gauge",
    "nodeops_gateway_retries_total": "counter",
    "nodeops_gateway_in_flight_requests": "gauge",
    "nodeops_gateway_client_connections": "gauge",
    "nodeops_gateway_upstream_connections": "gauge",
    "nodeops_gateway_active_clients": "gauge",
    "nodeops_gateway_active_pool": "gauge",
    "nodeops_gateway_pool_traffic_percent": "gauge",
    "nodeops_gateway_rollout_phase": "gauge",
    "nodeops_gateway_rollouts_total": "counter",
    "nodeops_gateway_build_info": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_start_time_seconds": "gauge",
}


@pytest.fixture(scope="module")
def node():
    with Anvil(chain_id=1) as a:
        a.mine(3)
        yield a


def test_metrics_pass_promtool_and_have_the_documented_families(node):
    with LyingUpstream(node.url, mode="garbage") as liar:
        ups = [("liar", liar.url, {"weight": 1000}), ("a", node.url)]
        with Nodeops.gateway(gateway_config({"ethereum": (1, ups)})) as g:
            post(g.url("/ethereum"), body("eth_blockNumber"))                       # ok, after a retry
            post(g.url("/ethereum"), body("eth_getBalance", ["0x" + "00" * 20, "latest"]))
            post(g.url("/ethereum"), body("nosuch_method"))                         # node error, method="other"
            post(g.url("/ethereum"), body("weird_" + "x" * 200))                    # still "other"
            post(g.url("/ethereum"), body("admin_peers"))                           # rejected
            post(g.url("/ethereum"), "not json")                                    # rejected
            text = g.metrics()
            if shutil.which("promtool"):
                check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                                       timeout=30)
                assert check.returncode == 0, check.stdout + check.stderr
            types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
            missing = {f: t for f, t in FAMILIES.items() if types.get(f) != t}
            assert not missing, f"missing or mistyped families: {missing}"
            v = lambda name, **labels: metric_value(text, name, **labels)  # noqa: E731
            assert v("nodeops_gateway_requests_total", chain="ethereum", method="eth_blockNumber", outcome="ok") == 1
            assert v("nodeops_gateway_requests_total", chain="ethereum", method="other", outcome="rpc_error") == 2
            assert v("nodeops_gateway_requests_total", chain="ethereum", method="admin_peers", outcome="rejected") == 1
            assert "weird_" not in text and "nosuch_method" not in text
            assert v("nodeops_gateway_upstream_head", chain="ethereum", upstream="a") == 3
            assert v("nodeops_gateway_upstream_lag_blocks", chain="ethereum", upstream="a") == 0
            assert v("nodeops_gateway_upstream_healthy", chain="ethereum", upstream="a") == 1
            assert v("nodeops_gateway_chain_head", chain="ethereum") == 3
            assert v("nodeops_gateway_chain_healthy_upstreams", chain="ethereum") == 2
            assert v("nodeops_gateway_upstream_errors_total", chain="ethereum", upstream="liar",
                     reason="bad_response") >= 1
            assert v("nodeops_gateway_retries_total", chain="ethereum", reason="bad_response") >= 1
            assert v("nodeops_gateway_upstream_info", chain="ethereum", upstream="a", pool="default", role="full") == 1
            assert v("nodeops_gateway_build_info") == 1


def test_readyz_is_the_process_and_readyz_chain_is_the_chain(node):
    with Anvil(chain_id=137) as pol:
        cfg = gateway_config({"ethereum": (1, [("a", node.url)]), "polygon": (137, [("p", pol.url)])},
                             chain={"health_interval": "200ms"})
        with Nodeops.gateway(cfg) as g:
            for url in (g.url("/readyz"), g.admin_url("/readyz")):
                r = requests.get(url, timeout=5)
                assert r.status_code == 200 and r.json()["ready"] is True
            for chain in ("ethereum", "polygon"):
                assert requests.get(g.url(f"/readyz/{chain}"), timeout=5).status_code == 200
            assert requests.get(g.url("/readyz/nosuch"), timeout=5).status_code == 404
            assert requests.get(g.url("/healthz"), timeout=5).status_code == 200
            pol.stop()  # polygon loses its only upstream
            wait_until("polygon unavailable",
                       lambda: requests.get(g.url("/readyz/polygon"), timeout=5).status_code == 503, procs=[g])
            # One chain down must not take the pod (and every other chain) out of the load balancer.
            r = requests.get(g.url("/readyz"), timeout=5)
            assert r.status_code == 200 and r.json()["healthy_upstreams"] == {"ethereum": 1, "polygon": 0}
            assert requests.get(g.url("/readyz/ethereum"), timeout=5).status_code == 200
            assert requests.head(g.url("/readyz/polygon"), timeout=5).status_code == 503
            # The healthy chain is still served; the other answers at once with a clear error.
            assert post(g.url("/ethereum"), body("eth_chainId")).json()["result"] == "0x1"
            assert post(g.url("/polygon"), body("eth_chainId")).json()["error"]["code"] == -32010


def test_status_is_json_with_pool_state(node):
    with Anvil(chain_id=5) as wrong:
        cfg = gateway_config({"ethereum": (1, [("a", node.url, {"role": "archive", "weight": 2}), ("w", wrong.url)])})
        with Nodeops.gateway(cfg) as g:
            r = requests.get(g.admin_url("/status"), timeout=5)
            assert r.headers["Content-Type"].startswith("application/json")
            s = r.json()
            chain = s["chains"][0]
            assert chain["name"] == "ethereum" and chain["chain_id"] == 1 and chain["healthy"] == 1
            assert chain["best_head"] == 3 and chain["active_pool"] == "default"
            a, w = chain["upstreams"]
            assert a["name"] == "a" and a["healthy"] is True and a["reason"] == "ok" and a["head"] == 3
            assert a["role"] == "archive" and a["weight"] == 2 and a["chain_id"] == 1 and a["syncing"] is False
            assert "anvil" in a["client_version"].lower()
            assert w["healthy"] is False and "wrong chain id" in w["reason"] and w["chain_id"] == 5
            # Traffic port does not serve the admin pages.
            assert requests.get(g.url("/status"), timeout=5).status_code == 404
            assert requests.get(g.url("/metrics"), timeout=5).status_code == 404


def test_logs_are_json_lines(node):
    with Nodeops.gateway(gateway_config({"ethereum": (1, [("a", node.url), ("dead", f"http://127.0.0.1:{free_port()}")])},
                                        chain={"health_interval": "200ms"})) as g:
        post(g.url("/ethereum"), body("eth_chainId"))
        wait_until("a rotation log line", lambda: "out of rotation" in g.log())
        g.stop()
        lines = [l for l in g.log().splitlines() if l.strip()]
        assert lines
        for line in lines:
            rec = json.loads(line)
            assert {"ts", "level", "msg"} <= rec.keys(), line
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["ts"]), rec["ts"]
            assert rec["level"] in ("debug", "info", "warn", "error")
        out = [json.loads(l) for l in lines if "out of rotation" in l]
        assert out[0]["upstream"] == "dead" and out[0]["chain"] == "ethereum" and out[0]["reason"]
        assert any(json.loads(l)["msg"] == "gateway listening" for l in lines)


def test_sigterm_finishes_in_flight_requests_and_exits_0(node):
    with LyingUpstream(node.url, mode="proxy", delay=1.0) as slow:
        cfg = gateway_config({"ethereum": (1, [("slow", slow.url)])}, limits={"drain_timeout": "10s"})
        g = Nodeops.gateway(cfg)
        try:
            # An idle keep-alive client, which draining must not wait for.
            idle = requests.Session()
            assert post(g.url("/ethereum"), body("eth_chainId"), session=idle).json()["result"] == "0x1"
            base = slow.calls
            replies = []

            def call(i):
                try:
                    replies.append(post(g.url("/ethereum"), body("eth_blockNumber", id=i), timeout=15).json())
                except Exception as e:  # noqa: BLE001
                    replies.append({"exception": repr(e)})

            threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            wait_until("four calls in flight at the upstream", lambda: slow.calls - base >= 4, timeout=10)
            t0 = time.monotonic()
            g.signal(signal.SIGTERM)
            for t in threads:
                t.join(timeout=15)
            code = g.proc.wait(timeout=15)
            took = time.monotonic() - t0
            assert code == 0, g.log()[-2000:]
            assert sorted(r.get("id", -1) for r in replies) == [0, 1, 2, 3], replies
            assert all(r.get("result") == "0x3" for r in replies), replies
            assert took < 8, took  # the 1 s calls, not the 10 s drain_timeout
            log = g.log()
            assert '"msg":"draining"' in log.replace(" ", "") and "gateway stopped" in log
        finally:
            g.stop()
