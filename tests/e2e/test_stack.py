"""`nodeops up` end to end: the default stack (examples/local.yaml, ports moved) on real programs —
anvil nodes, the gateway, the exporter, Prometheus with monitoring/rules, Alertmanager with
monitoring/alertmanager/local.yml — and the flows of the architecture through it.

The tests run in file order on one stack (conftest.py): traffic, monitoring, `nodeops status`,
then a node failure, a lagging node and a stalled chain at the same time (the alerts have
`for: 1m`; waiting for them together keeps the suite short), recovery, a crashed child being restarted, and last the SIGTERM
that must stop everything. Small stacks of their own prove a missing program is reported and a
SIGKILLed `nodeops up` leaves no orphan.

Run: /usr/bin/python3 -m pytest tests/e2e/test_stack.py   (about 2.5 minutes)
"""
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import requests
from harness import NODEOPS_BIN
from local_stack import LocalStack, pid_alive, port_is_free, require_stack_programs, stack_config, wait

ETH = ["eth-a", "eth-b", "eth-c"]
POLYGON = ["polygon-a", "polygon-b"]
DOWN_NODE = "eth-b"  # frozen with SIGSTOP: a hung node
LAG_NODE = "eth-c"   # stops mining: falls behind
STALLED_CHAIN = "polygon"  # every node frozen: the chain stops, users of /polygon get errors
# Alerts have `for: 1m`; Prometheus scrapes and evaluates every 2 s, so they reach Alertmanager
# after about 65 s. The bound leaves room for a loaded 2-core machine.
ALERT_TIMEOUT = 150


def head_of(stack, chain) -> int:
    reply = stack.rpc(chain, "eth_blockNumber")
    assert "result" in reply, reply
    return int(reply["result"], 16)


def test_up_prints_what_runs_where(stack):
    out = wait("the table", lambda: "Ctrl-C stops everything" in stack.log() and stack.log(), 10, stack=stack)
    for name in [*ETH, *POLYGON, "gateway", "exporter", "prometheus", "alertmanager"]:
        assert re.search(rf"^{re.escape(name)}\s+running\s+http://", out, re.M), f"{name} missing from:\n{out}"
    assert f"http://{stack.admin}/" in out
    assert f"http://{stack.prometheus}/" in out


def test_traffic_reaches_both_pools(stack):
    assert stack.rpc("ethereum", "eth_chainId")["result"] == "0x1"
    assert stack.rpc("polygon", "eth_chainId")["result"] == hex(137)
    eth0, pol0 = head_of(stack, "ethereum"), head_of(stack, "polygon")
    # ethereum mines every second, polygon every two.
    wait("ethereum blocks advancing", lambda: head_of(stack, "ethereum") >= eth0 + 2, 15, stack=stack)
    wait("polygon blocks advancing", lambda: head_of(stack, "polygon") >= pol0 + 1, 15, stack=stack)
    # Enough requests that every upstream of each pool served some. The stack's gateway caches
    # (nodeops up turns the cache on): these ask past it, as this is about balancing.
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]}

    # Selection is by load and chance, and a node one block behind what this client was last served
    # is skipped (monotonic reads): so calls go on, 30 per chain at a time, until every node has
    # served some, within a bound.
    def every_node_served():
        for i in range(30):
            for chain in ("ethereum", "polygon"):
                r = requests.post(stack.gateway_url(chain), json=call, headers={"Cache-Control": "no-cache"}, timeout=15)
                assert r.headers.get("X-Cache") == "BYPASS" and r.json().get("result"), r.text
        served = {u["name"]: u["requests_total"] for c in stack.status()["chains"] for u in c["upstreams"]}
        return all(served[n] > 0 for n in ETH + POLYGON) or print("not yet:", served)
    wait("every node of both pools served calls", every_node_served, 60, stack=stack)


def test_monitoring_scrapes_everything(stack):
    # nodeops-public-endpoint: the blackbox exporter's probe of the gateway's public port.
    jobs = {"nodeops-gateway", "nodeops-exporter", "prometheus", "alertmanager", "nodeops-public-endpoint"}

    def all_up():
        targets = stack.prom_targets()
        return {t["labels"]["job"] for t in targets if t["health"] == "up"} == jobs and all(
            t["health"] == "up" for t in targets)

    wait("every Prometheus target up", all_up, 30, stack=stack)
    # The exporter's series, one per node, and the gateway's, one per upstream.
    wait("exporter series", lambda: len(stack.prom_query('nodeops_node_up{job="nodeops-exporter"} == 1')) == 5, 20,
         stack=stack)
    node_heads = {r["metric"]["target"] for r in stack.prom_query("eth_exe_block_most_recent_number")}
    assert node_heads == set(ETH + POLYGON)
    wait("gateway series", lambda: len(stack.prom_query('nodeops_gateway_upstream_healthy{job="nodeops-gateway"}')) == 5,
         20, stack=stack)
    wait("gateway request counters", lambda: stack.prom_query('nodeops_gateway_requests_total{chain="polygon"}'), 20,
         stack=stack)
    # The project's rules are loaded (kubernetes.rules.yml is left out: no kube-state-metrics here).
    groups = requests.get(stack.prom_url("/api/v1/rules"), timeout=5).json()["data"]["groups"]
    names = {r["name"] for g in groups for r in g["rules"]}
    assert {"NodeOpsNodeDown", "NodeOpsNodeLagging", "NodeOpsGatewayDown", "NodeOpsExporterDown"} <= names
    assert "NodeOpsContainerHighCPU" not in names
    # Prometheus talks to our Alertmanager.
    ams = requests.get(stack.prom_url("/api/v1/alertmanagers"), timeout=5).json()["data"]["activeAlertmanagers"]
    assert any(stack.alertmanager in a["url"] for a in ams), ams


def test_status_command(stack):
    out = subprocess.run([str(NODEOPS_BIN), "status", "--state-dir", str(stack.state_dir)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert f"pid {stack.proc.pid} (running)" in out.stdout
    for name in [*ETH, *POLYGON, "gateway", "exporter", "prometheus", "alertmanager"]:
        assert re.search(rf"^{re.escape(name)}\s+running\s+\d+\s+0\s+http://", out.stdout, re.M), out.stdout


@pytest.fixture(scope="module")
def disrupted(stack):
    """Freezes DOWN_NODE, stops LAG_NODE mining and freezes every node of STALLED_CHAIN, together,
    so the alerts' minutes run at once."""
    stack.pause_node(DOWN_NODE)
    stack.stop_mining(LAG_NODE)
    for name in POLYGON:
        stack.pause_node(name)
    return time.monotonic()


def test_node_down_keeps_traffic_and_alerts(stack, disrupted):
    # Clients keep getting answers, also before the health check has taken the frozen node out
    # (a request sent to it times out and is retried on another upstream).
    for i in range(20):
        reply = stack.rpc("ethereum", "eth_blockNumber", timeout=20)
        assert "result" in reply, f"request {i}: {reply}"
    wait(f"{DOWN_NODE} out of rotation", lambda: not stack.upstream("ethereum", DOWN_NODE)["healthy"], 15,
         stack=stack)
    assert "unreachable" in stack.upstream("ethereum", DOWN_NODE)["reason"]
    alert = wait("NodeOpsNodeDown in Alertmanager", lambda: stack.alerts("NodeOpsNodeDown", target=DOWN_NODE),
                 ALERT_TIMEOUT - (time.monotonic() - disrupted), interval=1, stack=stack)[0]
    assert alert["labels"]["severity"] == "warning"  # one node: a warning, never a page
    assert alert["labels"]["chain"] == "ethereum"
    assert alert["annotations"]["runbook_url"].endswith("NodeOpsNodeDown.md")
    print(f"NodeOpsNodeDown reached Alertmanager {time.monotonic() - disrupted:.0f}s after the node stopped")


def test_lagging_node_leaves_rotation_and_alerts(stack, disrupted):
    def lagging():
        u = stack.upstream("ethereum", LAG_NODE)
        return not u["healthy"] and u["reason"].startswith("lagging") and u
    u = wait(f"{LAG_NODE} out of rotation", lagging, 20, stack=stack)
    assert u["lag"] > stack.cfg["gateway"]["max_lag_blocks"]
    # Traffic goes to the healthy node only now.
    before = stack.upstream("ethereum", LAG_NODE)["requests_total"]
    for _ in range(10):
        assert "result" in stack.rpc("ethereum", "eth_blockNumber")
    assert stack.upstream("ethereum", LAG_NODE)["requests_total"] == before
    alert = wait("NodeOpsNodeLagging in Alertmanager", lambda: stack.alerts("NodeOpsNodeLagging", target=LAG_NODE),
                 ALERT_TIMEOUT - (time.monotonic() - disrupted), interval=1, stack=stack)[0]
    assert alert["labels"]["severity"] == "warning"
    print(f"NodeOpsNodeLagging reached Alertmanager {time.monotonic() - disrupted:.0f}s after mining stopped")


def test_stalled_chain_pages(stack, disrupted):
    """A chain without a healthy upstream is what users feel: a page, and the probe from outside
    (the blackbox exporter through the gateway's public port) fails too."""
    alert = wait("NodeOpsChainNoHealthyUpstream in Alertmanager",
                 lambda: stack.alerts("NodeOpsChainNoHealthyUpstream", chain=STALLED_CHAIN),
                 ALERT_TIMEOUT - (time.monotonic() - disrupted), interval=1, stack=stack)[0]
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["pool"]  # the active pool, joined from nodeops_gateway_upstream_info
    wait("public endpoint probe of the stalled chain fails",
         lambda: stack.prom_query(f'probe_success{{job="nodeops-public-endpoint", chain="{STALLED_CHAIN}"}} == 0'),
         30, stack=stack)
    assert stack.prom_query('probe_success{job="nodeops-public-endpoint", chain="ethereum"} == 1')
    print(f"NodeOpsChainNoHealthyUpstream reached Alertmanager {time.monotonic() - disrupted:.0f}s after the chain stopped")


def test_recovery_resolves_alerts(stack, disrupted):
    for name in POLYGON:
        stack.resume_node(name)
    stack.resume_node(DOWN_NODE)
    # anvil nodes have no peers to sync from: mine the blocks they missed, like a sync would.
    wait(f"{DOWN_NODE} answers", lambda: stack.node_rpc(DOWN_NODE, "eth_blockNumber").get("result"), 10, stack=stack)
    for name in (DOWN_NODE, LAG_NODE):
        stack.catch_up(name, "eth-a")
    wait("both nodes back in rotation",
         lambda: stack.upstream("ethereum", DOWN_NODE)["healthy"] and stack.upstream("ethereum", LAG_NODE)["healthy"],
         20, stack=stack)
    wait("NodeOpsNodeDown resolved", lambda: not stack.alerts("NodeOpsNodeDown", target=DOWN_NODE), 60, interval=1,
         stack=stack)
    wait("NodeOpsNodeLagging resolved", lambda: not stack.alerts("NodeOpsNodeLagging", target=LAG_NODE), 60, interval=1,
         stack=stack)
    wait("NodeOpsChainNoHealthyUpstream resolved",
         lambda: not stack.alerts("NodeOpsChainNoHealthyUpstream", chain=STALLED_CHAIN), 60, interval=1, stack=stack)


def test_crashed_child_is_restarted(stack):
    old = stack.child("exporter")
    os.kill(old["pid"], signal.SIGKILL)
    # Backoff starts at 1 s.
    new = wait("exporter restarted", lambda: (c := stack.child("exporter"))["pid"] not in (old["pid"], -1)
               and c["state"] == "running" and c, 15, stack=stack)
    assert new["restarts"] == old["restarts"] + 1
    wait("restarted exporter serves", lambda: requests.get(stack.exporter_url("/metrics"), timeout=2).ok, 15,
         stack=stack)


def test_second_stack_on_the_same_state_dir_is_refused(stack):
    out = subprocess.run([str(NODEOPS_BIN), "up", "-f", str(stack.file)], capture_output=True, text=True,
                         timeout=20, cwd=stack.tmp)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"already running from {stack.state_dir} (nodeops up, pid {stack.proc.pid})" in out.stderr
    assert stack.child("gateway")["restarts"] == 0  # nothing of the first one disturbed


def test_sigterm_stops_every_child_and_frees_ports(stack):
    pids = {c["name"]: c["pid"] for c in stack.state()["children"]}
    assert all(p > 0 for p in pids.values()), pids
    stack.pause_node("eth-a")  # a frozen child must not hold up the stop either
    t0 = time.monotonic()
    assert stack.stop(timeout=30) == 0
    took = time.monotonic() - t0
    print(f"stack stopped in {took:.1f}s")
    assert took < 8, f"stopping took {took:.1f}s: a child waited for the SIGKILL after the 10 s grace"
    assert not [n for n, p in pids.items() if pid_alive(p)], "orphans left behind"
    busy = [p for p in stack.ports() if not port_is_free(p)]
    assert not busy, f"ports still bound: {busy}"
    assert not stack.state_file.exists()
    out = subprocess.run([str(NODEOPS_BIN), "status", "--state-dir", str(stack.state_dir)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 1 and "no stack is running" in out.stderr


def test_missing_program_is_reported_and_the_rest_starts(tmp_path):
    """PATH without Prometheus or Alertmanager: they are reported with their install command and
    the nodes, gateway and exporter still run. Also --no-restart: a child that exits stays exited."""
    require_stack_programs(monitoring=False)
    s = LocalStack.start(tmp_path, monitoring=True, nodes=["eth-a", "polygon-a"], args=["--no-restart"],
                         env={"PATH": "/nonexistent"}, wait=False)
    try:
        s.monitoring = False  # only wait for what can start
        s.wait_ready(60)
        out = s.log()
        assert re.search(r"^prometheus\s+missing\s+missing: apt-get install prometheus$", out, re.M), out
        assert re.search(r"^alertmanager\s+missing\s+missing: apt-get install prometheus-alertmanager$", out, re.M), out
        assert s.rpc("ethereum", "eth_chainId")["result"] == "0x1"
        assert s.rpc("polygon", "eth_chainId")["result"] == hex(137)
        st = subprocess.run([str(NODEOPS_BIN), "status", "--state-dir", str(s.state_dir)], capture_output=True,
                            text=True, timeout=10).stdout
        assert re.search(r"^prometheus\s+missing\b", st, re.M), st
        os.kill(s.child("polygon-a")["pid"], signal.SIGKILL)
        wait("polygon-a exited", lambda: s.child("polygon-a")["state"] == "exited", 10, stack=s)
        time.sleep(2.5)  # longer than the first restart backoff
        assert s.child("polygon-a")["state"] == "exited"
        assert s.stop() == 0
    finally:
        s.kill()


def test_killed_supervisor_leaves_no_orphan(tmp_path):
    """Even SIGKILL of `nodeops up` (no chance to clean up) takes every child with it (PDEATHSIG)."""
    require_stack_programs(monitoring=False)
    s = LocalStack.start(tmp_path, monitoring=False, nodes=["eth-a", "polygon-a"])
    try:
        pids = {c["name"]: c["pid"] for c in s.state()["children"]}
        s.proc.kill()
        s.proc.wait(10)
        wait("children gone", lambda: not [n for n, p in pids.items() if pid_alive(p)], 15)
        wait("ports free", lambda: all(port_is_free(p) for p in s.ports()), 15)
        out = subprocess.run([str(NODEOPS_BIN), "status", "--state-dir", str(s.state_dir)], capture_output=True,
                             text=True, timeout=10)
        assert out.returncode == 1 and "stale state file" in out.stdout, out.stdout
    finally:
        s.kill()


def test_busy_port_is_reported(tmp_path):
    """A port taken by another program is named when the stack starts; the rest runs."""
    require_stack_programs(monitoring=False)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        cfg_port = f"127.0.0.1:{port}"
        cfg = stack_config(tmp_path, monitoring=False, nodes=["eth-a"])
        cfg["exporter"]["listen"] = cfg_port
        s = LocalStack(cfg, tmp_path)
        try:
            out = wait("the table", lambda: "Ctrl-C stops everything" in s.log() and s.log(), 15, stack=s)
            assert f"warning: {cfg_port} (exporter) is already in use by another program" in out, out
            wait("gateway ready", lambda: requests.get(s.admin_url("/readyz"), timeout=2).ok, 20, stack=s)
        finally:
            s.kill()
