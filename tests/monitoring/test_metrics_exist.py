"""Every metric the rules and dashboards use is exported by the real binaries, with the labels the
rule tests give it.

Starts anvil (a real Ethereum node), `nodeops gateway` with anvil as its one upstream and
`nodeops exporter` probing anvil and the recorded beacon, Heimdall and Solana replies
(tests/fixtures, served on loopback) with two data dirs, so every exporter family has samples;
scrapes both /metrics and collects the family names from the `# TYPE` lines (the binary declares every family it can export, even before a sample exists;
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

A rename in the binary fails this test, not the pager. So does a rule test whose input series
carry labels the binary does not emit (they make rules pass that never match in production): each
input series of monitoring/rules/tests/*.test.yml must have exactly the label names the binary
gives that metric, plus what Prometheus and the ServiceMonitors add (job, instance, namespace,
pod, nodeops_io_chain, nodeops_io_pool). Label names come from the scraped samples, else from
docs/interfaces.md, else from promql_names.PROMISED_GATEWAY. And the version in
both build_info series is the build's `git describe`, not a literal.

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
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).parent))
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "support"))
from fixture_server import FixtureServer  # noqa: E402
from promql_names import (  # noqa: E402
    PROMISED_GATEWAY, REPO, RULES_DIR, contract_names, exported_names, is_external, recording_rule_names,
    used_metrics,
)

FIXTURES = REPO / "tests" / "fixtures"
# Labels Prometheus adds to every scraped series, and the ServiceMonitors add in the cluster.
SCRAPE_LABELS = {"job", "instance", "namespace", "pod", "nodeops_io_chain", "nodeops_io_pool"}

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
    (tmp / "data").mkdir()
    (tmp / "accounts").mkdir()
    fixtures = [FixtureServer(str(FIXTURES / kind / scenario)).start()
                for kind, scenario in (("beacon", "synced"), ("heimdall", "synced"), ("solana", "healthy"))]
    beacon, heimdall, solana = (f.url for f in fixtures)
    exporter_config = tmp / "exporter.yaml"
    anvil_port, listen, admin, exporter = free_port(), free_port(), free_port(), free_port()
    anvil_url = f"http://127.0.0.1:{anvil_port}"
    config = tmp / "gateway.yaml"
    # Client-facing TLS and shared rate limits on, so their families are declared too (no Redis
    # listens on that port: the gateway fails open and keeps trying, which is what the alert reads).
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp / "tls.key",
                    "-out", tmp / "tls.crt", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=60)
    config.write_text(f"""\
listen: 127.0.0.1:{listen}
admin_listen: 127.0.0.1:{admin}
threads: 1
tls: {{ cert_file: "{tmp / 'tls.crt'}", key_file: "{tmp / 'tls.key'}" }}
rate_limits: {{ per_ip_rps: 1000, redis: "redis://127.0.0.1:{free_port()}" }}
chains:
  - name: ethereum
    type: evm
    chain_id: 1
    upstreams:
      - {{ name: anvil, url: "{anvil_url}" }}
""")
    exporter_config.write_text(f"""\
listen: 127.0.0.1:{exporter}
interval: 1s
max_head_age: 100000h   # the recorded heads never move
stall_after: 100000h
data_dirs:
  - {{ path: "{tmp / 'data'}" }}
  - {{ name: accounts, path: "{tmp / 'accounts'}" }}
targets:
  - {{ name: execution, type: evm, url: "{anvil_url}", chain: ethereum }}
  - {{ name: beacon, type: beacon, url: "{beacon}", chain: ethereum }}
  - {{ name: heimdall, type: heimdall, url: "{heimdall}", rest_url: "{heimdall}", chain: polygon }}
  - {{ name: agave, type: solana, url: "{solana}", chain: solana }}
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
        spawn(NODEOPS, "exporter", "--config", exporter_config)
        gw_admin = f"http://127.0.0.1:{admin}"
        exp = f"http://127.0.0.1:{exporter}"
        wait_for("gateway /readyz", lambda: requests.get(f"{gw_admin}/readyz", timeout=2).status_code == 200,
                 procs=procs)
        wait_for("exporter probes and disk", lambda: (lambda text: text.count("nodeops_node_up{") == 4
                                                     and not re.search(r"^nodeops_node_up\{[^}]*\} 0", text, re.M)
                                                     and 'volume="accounts"' in text
                                                     and "nodeops_solana_gossip_peers{" in text)(
                     requests.get(f"{exp}/metrics", timeout=2).text), procs=procs)
        # One request through the gateway, so the labelled request series and buckets exist.
        r = requests.post(f"https://localhost:{listen}/ethereum", verify=str(tmp / "tls.crt"),
                          json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}, timeout=5)
        assert r.ok and "result" in r.json(), r.text
        yield {
            "gateway": requests.get(f"{gw_admin}/metrics", timeout=5).text,
            "exporter": requests.get(f"{exp}/metrics", timeout=5).text,
        }
    finally:
        for f in fixtures:
            f.stop()
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
        if name not in exported and name not in recorded and not is_external(name) and name not in PROMISED_GATEWAY
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


def sample_labels(exposition: str) -> dict[str, set[frozenset]]:
    """Sample name -> the label-name sets its samples carry."""
    out: dict[str, set[frozenset]] = {}
    for line in exposition.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? ", line)
        if not m or line.startswith("#"):
            continue
        names = frozenset(re.findall(r'(\w+)="', m.group(3) or ""))
        out.setdefault(m.group(1), set()).add(names)
    return out


def interfaces_labels() -> dict[str, frozenset]:
    """Label names docs/interfaces.md gives each metric: the label column of the gateway table;
    for the exporter table, `target` and `chain` plus the `name="..."` labels of its notes."""
    text = (REPO / "docs" / "interfaces.md").read_text()
    exporter = text.split("### Exporter", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in exporter.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not cells[1].startswith("`"):
            continue
        labels = frozenset({"target", "chain"} | set(re.findall(r'(\w+)="', cells[3]))
                           | ({"version"} if cells[3] == "version" else set()))
        for name in re.findall(r"`([a-z_:]+)`", cells[1]):
            out[name] = labels
    section = text.split("### Gateway", 1)[1].split("###", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not cells[1].startswith("`"):
            continue
        labels = frozenset(w for w in re.findall(r"\b([a-z_]+)\b", re.sub(r"\(.*?\)", "", cells[3]))
                           if w not in {"distinct", "client", "addresses", "in", "the", "last", "minutes"})
        for name in re.findall(r"`([a-z_:]+)`", cells[1]):
            hist = cells[2].startswith("histogram")
            for series in ([f"{name}_bucket", f"{name}_count", f"{name}_sum"] if hist else [name]):
                out[series] = labels | ({"le"} if series.endswith("_bucket") else frozenset())
    return out


def test_rule_test_series_carry_the_labels_the_binaries_emit(stack):
    emitted = sample_labels(stack["gateway"])
    for name, sets in sample_labels(stack["exporter"]).items():
        emitted.setdefault(name, set()).update(sets)
    declared = interfaces_labels()
    exported = exported_names(stack["gateway"]) | exported_names(stack["exporter"])
    wrong = []
    for path in sorted((RULES_DIR / "tests").glob("*.test.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for s in test.get("input_series", []):
                m = re.match(r"^([a-zA-Z_:][\w:]*)\{(.*)\}$", s["series"].strip())
                name, labels = m.group(1), frozenset(re.findall(r'(\w+)="', m.group(2))) - SCRAPE_LABELS
                if is_external(name):
                    continue
                if name in emitted:
                    allowed = emitted[name]
                elif name in declared:
                    allowed = {declared[name]}
                elif name in PROMISED_GATEWAY:
                    allowed = {frozenset(PROMISED_GATEWAY[name])}
                else:
                    wrong.append(f"{path.name}: {test['name']}: {name} is not exported (exported: {name in exported})")
                    continue
                if labels not in allowed:
                    wrong.append(f"{path.name}: {test['name']}: {name} has labels {sorted(labels)}, "
                                 f"the binary gives {sorted(sorted(a) for a in allowed)}")
    assert not wrong, "rule test series the binaries never emit:\n" + "\n".join(f"  {w}" for w in wrong)


def test_build_info_is_the_builds_git_describe(stack):
    """`version` is `git describe` of the build (a new version per deployed commit, so the
    version-changed alerts can fire), the same in both binaries; not the project's literal."""
    versions = set()
    for text, metric in ((stack["gateway"], "nodeops_gateway_build_info"),
                         (stack["exporter"], "nodeops_exporter_build_info")):
        m = re.search(rf'^{metric}\{{version="([^"]+)"\}} 1', text, re.M)
        assert m, f"{metric} missing"
        versions.add(m.group(1))
    assert len(versions) == 1, versions
    version = versions.pop()
    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--git-dir"], capture_output=True)
    if git.returncode != 0:
        pytest.skip("not a git checkout: the binaries report the project version")
    # <tag>-<n>-g<hash>[-dirty] or <hash>[-dirty]; the commit must be one of this repository's.
    m = re.fullmatch(r"(?:.+-\d+-g)?([0-9a-f]{7,40})(?:-dirty)?|(v?\d+\.\d+\.\d+)(?:-dirty)?", version)
    assert m, f"build_info version {version!r} is not git describe output"
    ref = m.group(1) or m.group(2)
    assert subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{ref}^{{commit}}"]).returncode == 0, \
        f"build_info version {version!r} names no commit of this repository"
