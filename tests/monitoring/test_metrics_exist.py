"""Every metric the rules and dashboards use is exported by the real binaries.

Starts anvil (a real Ethereum node), `nodeops gateway` with anvil as its one upstream and
`nodeops exporter` probing anvil, scrapes both /metrics and collects the family names from the
`# TYPE` lines (the binary declares every family it can export, even before a sample exists;
a histogram x provides x_bucket, x_sum and x_count). Then every metric name used by
monitoring/rules/*.rules.yml and monitoring/dashboards/*.json must be exported, be a recording
rule of monitoring/rules, or be an allowed external metric. Allowed external metrics
(promql_names.ALLOWED_EXTERNAL), because the binaries cannot export them:
  up, ALERTS, ALERTS_FOR_STATE                        Prometheus itself
  kube_horizontalpodautoscaler_status_current_replicas,
  kube_pod_container_resource_limits                  kube-state-metrics (cluster only)
  container_cpu_usage_seconds_total,
  container_memory_working_set_bytes                  cAdvisor (cluster only)
  node_*                                              node-exporter (cluster only)

A rename in the binary fails this test, not the pager.

Run: /usr/bin/python3 -m pytest tests/monitoring/test_metrics_exist.py
Env: NODEOPS_BIN (default build/release/nodeops), ANVIL_BIN (default .tools/bin/anvil).
Without the binary the tests are skipped, unless NODEOPS_REQUIRE_BIN=1 (then they fail).
"""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from promql_names import (  # noqa: E402
    REPO, contract_names, exported_names, is_external, recording_rule_names, used_metrics,
)

NODEOPS = pathlib.Path(os.environ.get("NODEOPS_BIN", REPO / "build" / "release" / "nodeops"))
ANVIL = pathlib.Path(os.environ.get("ANVIL_BIN", REPO / ".tools" / "bin" / "anvil"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout: float = 30.0, procs=()) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                out = p.stdout.read().decode(errors="replace") if p.stdout else ""
                raise AssertionError(f"{what}: process {p.args[0]} exited with {p.returncode}\n{out[-2000:]}")
        try:
            if check():
                return
        except requests.RequestException as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} ({last})")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    missing = [str(p) for p in (NODEOPS, ANVIL) if not os.access(p, os.X_OK)]
    if missing:
        msg = f"not built/installed: {', '.join(missing)} (set NODEOPS_BIN / ANVIL_BIN)"
        if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
            pytest.fail(msg)
        pytest.skip(msg)

    tmp = tmp_path_factory.mktemp("metrics")
    anvil_port, listen, admin, exporter = free_port(), free_port(), free_port(), free_port()
    anvil_url = f"http://127.0.0.1:{anvil_port}"
    config = tmp / "gateway.yaml"
    config.write_text(f"""\
listen: 127.0.0.1:{listen}
admin_listen: 127.0.0.1:{admin}
threads: 1
chains:
  - name: ethereum
    type: evm
    chain_id: 1
    upstreams:
      - {{ name: anvil, url: "{anvil_url}" }}
""")
    procs = []

    def spawn(*args):
        p = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        spawn(ANVIL, "--port", anvil_port, "--chain-id", 1, "--block-time", 1, "--silent")
        wait_for("anvil", lambda: requests.post(anvil_url, json={"jsonrpc": "2.0", "id": 1,
                                                                 "method": "eth_chainId"}, timeout=2).ok,
                 procs=procs)
        spawn(NODEOPS, "gateway", "--config", config)
        spawn(NODEOPS, "exporter", "--target", f"evm={anvil_url}", "--chain", "ethereum",
              "--listen", f"127.0.0.1:{exporter}", "--interval", "1s")
        gw_admin = f"http://127.0.0.1:{admin}"
        exp = f"http://127.0.0.1:{exporter}"
        wait_for("gateway /readyz", lambda: requests.get(f"{gw_admin}/readyz", timeout=2).status_code == 200,
                 procs=procs)
        wait_for("exporter probe", lambda: re.search(r"^nodeops_node_up\{[^}]*\} 1",
                                                     requests.get(f"{exp}/metrics", timeout=2).text, re.M),
                 procs=procs)
        # One request through the gateway, so the labelled request series and buckets exist.
        r = requests.post(f"http://127.0.0.1:{listen}/ethereum",
                          json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}, timeout=5)
        assert r.ok and "result" in r.json(), r.text
        yield {
            "gateway": requests.get(f"{gw_admin}/metrics", timeout=5).text,
            "exporter": requests.get(f"{exp}/metrics", timeout=5).text,
        }
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_every_used_metric_is_exported(stack):
    exported = exported_names(stack["gateway"]) | exported_names(stack["exporter"])
    recorded = recording_rule_names()
    missing = {
        name: where for name, where in used_metrics().items()
        if name not in exported and name not in recorded and not is_external(name)
    }
    assert not missing, "metrics used but not exported by the binaries:\n" + "\n".join(
        f"  {n}  (used by {', '.join(sorted(w))})" for n, w in sorted(missing.items()))


def test_contract_is_exported(stack):
    """docs/interfaces.md is the contract: each metric it lists is declared by a binary."""
    exported = exported_names(stack["gateway"]) | exported_names(stack["exporter"])
    missing = sorted(contract_names() - exported)
    assert not missing, f"metrics in docs/interfaces.md but not exported: {missing}"


def test_latency_slo_bucket_exists(stack):
    """The latency SLI (slo.rules.yml) reads the le="1" bucket of the request histogram."""
    assert re.search(r'^nodeops_gateway_request_duration_seconds_bucket\{[^}]*le="1"',
                     stack["gateway"], re.M), \
        'nodeops_gateway_request_duration_seconds has no le="1" bucket; update slo.rules.yml'
