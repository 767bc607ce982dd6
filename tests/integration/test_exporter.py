"""`nodeops exporter` against real nodes: anvil for EVM (synced, stalled, lagging), and loopback
fixture servers replaying documented beacon / Heimdall / Solana responses (tests/fixtures).

Run: /usr/bin/python3 -m pytest tests/integration/test_exporter.py
Needs: NODEOPS_BIN (default build/release/nodeops), .tools/bin/anvil, promtool on PATH.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from fixture_server import FixtureServer  # noqa: E402

def _default_bin():
    for rel in (("build", "release", "nodeops"), ("build", "release", "src", "cli", "nodeops")):
        path = os.path.join(ROOT, *rel)
        if os.path.exists(path):
            return path
    return os.path.join(ROOT, "build", "release", "nodeops")


BIN = os.environ.get("NODEOPS_BIN") or _default_bin()
ANVIL = os.path.join(ROOT, ".tools", "bin", "anvil")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

# Under ctest (NODEOPS_REQUIRE_BIN=1) a missing binary or tool fails the run; by hand it skips.
REQUIRE = bool(os.environ.get("NODEOPS_REQUIRE_BIN"))


def missing(what):
    if REQUIRE:
        pytest.fail(f"{what} is required (NODEOPS_REQUIRE_BIN=1)")
    pytest.skip(what)


if REQUIRE and not os.path.exists(BIN):
    raise RuntimeError(f"NODEOPS_BIN {BIN} does not exist")
pytestmark = pytest.mark.skipif(not os.path.exists(BIN), reason=f"{BIN} not built")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            # A requests.Response is falsy for 4xx/5xx; a returned response means "found".
            if isinstance(last, requests.Response) or last:
                return last
        except requests.RequestException as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Anvil:
    def __init__(self, block_time=None, chain_id=1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [ANVIL, "--port", str(self.port), "--chain-id", str(chain_id), "--silent"]
        if block_time:
            args += ["--block-time", str(block_time)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.rpc("eth_chainId") is not None, what="anvil")

    def rpc(self, method, params=None):
        r = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
                          timeout=5)
        return r.json().get("result")

    def head(self):
        return int(self.rpc("eth_blockNumber"), 16)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def anvils():
    if not os.path.exists(ANVIL):
        missing("anvil (scripts/bootstrap.sh installs it)")
    started = []

    def start(**kw):
        a = Anvil(**kw)
        started.append(a)
        return a

    yield start
    for a in started:
        a.stop()


class Exporter:
    def __init__(self, args, config=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="nodeops-exporter-")
        cmd = [BIN, "exporter", "--listen", f"127.0.0.1:{self.port}"] + list(args)
        if config is not None:
            path = os.path.join(self.tmp, "exporter.yaml")
            with open(path, "w") as f:
                f.write(config)
            cmd += ["--config", path]
        self.stdout = open(os.path.join(self.tmp, "stdout.log"), "w+")
        self.stderr = open(os.path.join(self.tmp, "stderr.log"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.stdout, stderr=self.stderr)
        wait_for(lambda: self.get("/healthz").status_code == 200 if self.alive() else self._died(),
                 what="exporter /healthz")

    def _died(self):
        self.stderr.seek(0)
        raise AssertionError(f"exporter exited {self.proc.returncode}: {self.stderr.read()}")

    def alive(self):
        return self.proc.poll() is None

    def get(self, path):
        return requests.get(self.url + path, timeout=5)

    def metrics_text(self):
        r = self.get("/metrics")
        assert r.status_code == 200
        return r.text

    def metrics(self):
        """{ 'name{labels}': value } for every sample."""
        out = {}
        for line in self.metrics_text().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
        return out

    def value(self, name, **labels):
        for key, v in self.metrics().items():
            if key.split("{", 1)[0] != name:
                continue
            if all(f'{k}="{val}"' in key for k, val in labels.items()):
                return v
        return None

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.proc.returncode


@pytest.fixture
def exporters():
    started = []

    def start(args=(), config=None):
        e = Exporter(args, config)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


def promtool_check(text):
    if shutil.which("promtool") is None:
        missing("promtool (Debian prometheus)")
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()


FAST = ["--interval", "300ms"]


# ---------------------------------------------------------------- EVM against anvil


def test_synced_anvil_is_ready_and_live(anvils, exporters):
    node = anvils(block_time=1)
    exp = exporters(["--target", f"geth:evm={node.url}", "--max-head-age", "5s", "--stall-after", "10s"] + FAST)
    r = wait_for(lambda: (lambda r: r if r.status_code == 200 else None)(exp.get("/ready")), what="/ready 200")
    assert r.json()["ready"] is True
    assert exp.get("/live").status_code == 200
    assert exp.get("/ready?target=geth").status_code == 200
    assert exp.get("/ready?target=nope").status_code == 404

    assert exp.value("nodeops_node_up", target="geth", chain="ethereum") == 1
    assert exp.value("eth_exe_chain_id", target="geth") == 1
    assert exp.value("eth_exe_sync_is_syncing", target="geth") == 0
    assert exp.value("eth_exe_sync_percentage", target="geth") == 100
    wait_for(lambda: (exp.value("eth_exe_block_most_recent_number", target="geth", identifier="head") or 0) >= 1,
             what="head >= 1")
    assert exp.value("nodeops_node_ready", target="geth") == 1
    assert exp.value("nodeops_node_live", target="geth") == 1
    assert exp.value("nodeops_node_head_age_seconds", target="geth") < 5
    assert exp.value("nodeops_exporter_up") == 1
    assert exp.value("nodeops_exporter_last_success_timestamp_seconds", target="geth") > time.time() - 10
    version = [k for k in exp.metrics() if k.startswith("eth_exe_web3_client_version{")]
    assert version and "anvil" in version[0].lower()
    promtool_check(exp.metrics_text())


def test_stalled_head_is_not_ready_then_not_live(anvils, exporters):
    node = anvils(block_time=1)
    exp = exporters(["--target", f"geth:evm={node.url}", "--max-head-age", "2s", "--stall-after", "5s"] + FAST)
    wait_for(lambda: exp.get("/ready").status_code == 200, what="ready while mining")

    node.rpc("evm_setAutomine", [False])
    node.rpc("evm_setIntervalMining", [0])
    stalled_at = node.head()

    r = wait_for(lambda: (lambda r: r if r.status_code == 503 else None)(exp.get("/ready")), timeout=15,
                 what="/ready 503 after max_head_age")
    body = r.json()
    assert body["ready"] is False and "head age" in body["reason"], body
    assert len(r.text.strip().splitlines()) == 1
    # Not ready is not dead: the head only stopped ~2 s ago, stall_after is 5 s.
    assert exp.get("/live").status_code == 200
    assert exp.value("nodeops_node_ready", target="geth") == 0

    r = wait_for(lambda: (lambda r: r if r.status_code == 503 else None)(exp.get("/live")), timeout=15,
                 what="/live 503 after stall_after")
    assert f"head {stalled_at} has not moved" in r.json()["reason"], r.text
    assert exp.value("nodeops_node_live", target="geth") == 0
    assert node.head() == stalled_at

    # Mining again: live and ready come back.
    node.rpc("evm_setIntervalMining", [1])
    wait_for(lambda: exp.get("/live").status_code == 200 and exp.get("/ready").status_code == 200, timeout=15,
             what="recovery")


def test_lag_against_a_faster_reference(anvils, exporters):
    node = anvils(block_time=1)
    reference = anvils(block_time=1)
    reference.rpc("anvil_mine", [hex(30)])
    exp = exporters(["--target", f"geth:evm={node.url}", "--reference", reference.url, "--max-lag", "5",
                     "--max-head-age", "30s"] + FAST)
    r = wait_for(lambda: (lambda r: r if r.status_code == 503 and "lag" in r.text else None)(exp.get("/ready")),
                 what="/ready 503 for lag")
    assert "max_lag 5" in r.json()["reason"]
    lag = wait_for(lambda: exp.value("nodeops_node_head_lag_blocks", target="geth"), what="lag metric")
    assert lag >= 20
    # The node catches up: ready again.
    node.rpc("anvil_mine", [hex(40)])
    wait_for(lambda: exp.get("/ready").status_code == 200, what="ready after catching up")
    assert exp.value("nodeops_node_head_lag_blocks", target="geth") <= 5


def test_lag_against_the_best_target_and_per_target_answers(anvils, exporters):
    fast = anvils(block_time=1)
    slow = anvils(block_time=1)
    fast.rpc("anvil_mine", [hex(50)])
    exp = exporters(["--target", f"fast:evm={fast.url}", "--target", f"slow:evm={slow.url}",
                     "--max-head-age", "30s"] + FAST)
    wait_for(lambda: exp.get("/ready?target=slow").status_code == 503, what="slow not ready")
    assert exp.get("/ready?target=fast").status_code == 200
    r = exp.get("/ready")  # all targets together
    assert r.status_code == 503
    assert r.json()["targets"]["fast"] == "ok"
    assert r.json()["reason"].startswith("slow: lag")
    assert exp.value("nodeops_node_head_lag_blocks", target="fast") == 0
    assert exp.value("nodeops_node_head_lag_blocks", target="slow") >= 40


# ---------------------------------------------------------------- beacon / heimdall / solana fixtures

FIXTURE_CONFIG = """
interval: 300ms
max_lag: 5
max_head_age: 100000h   # the replayed heads never move and Heimdall's block time is a recorded date
stall_after: 100000h
targets:
  - {{ name: lighthouse, type: beacon, url: "{beacon}" }}
  - {{ name: heimdall, type: heimdall, url: "{heimdall}", rest_url: "{heimdall}" }}
  - {{ name: agave, type: solana, url: "{solana}" }}
"""


@pytest.fixture
def fixture_servers():
    servers = {
        "beacon": FixtureServer(os.path.join(FIXTURES, "beacon", "synced")).start(),
        "heimdall": FixtureServer(os.path.join(FIXTURES, "heimdall", "synced")).start(),
        "solana": FixtureServer(os.path.join(FIXTURES, "solana", "healthy")).start(),
    }
    yield servers
    for s in servers.values():
        s.stop()


def test_beacon_heimdall_solana_from_recorded_responses(fixture_servers, exporters):
    s = fixture_servers
    exp = exporters(config=FIXTURE_CONFIG.format(beacon=s["beacon"].url, heimdall=s["heimdall"].url,
                                                 solana=s["solana"].url))
    r = wait_for(lambda: (lambda r: r if r.status_code == 200 else None)(exp.get("/ready")), what="all ready")
    assert r.json()["targets"] == {"lighthouse": "ok", "heimdall": "ok", "agave": "ok"}

    assert exp.value("eth_con_sync_head_slot", target="lighthouse") == 11923456
    assert exp.value("eth_con_sync_is_syncing", target="lighthouse") == 0
    assert exp.value("eth_con_peers", target="lighthouse", state="connected") == 87
    assert exp.value("eth_con_beacon_finality_checkpoint_epochs", target="lighthouse", state_id="head",
                     checkpoint="finalized") == 372606
    assert exp.value("eth_con_node_version", target="lighthouse") == 1
    assert exp.value("nodeops_heimdall_catching_up", target="heimdall", chain="polygon") == 0
    assert exp.value("nodeops_heimdall_latest_block_height", target="heimdall") == 26112733
    assert exp.value("nodeops_heimdall_checkpoints", target="heimdall") == 80412
    assert exp.value("nodeops_heimdall_milestones", target="heimdall") == 3614920
    assert exp.value("nodeops_heimdall_span_id", target="heimdall") == 10822
    assert exp.value("nodeops_heimdall_peers", target="heimdall") == 2
    assert exp.value("solana_node_is_healthy", target="agave", chain="solana") == 1
    assert exp.value("solana_node_slot_height", target="agave") == 362188310
    assert exp.value("solana_node_block_height", target="agave") == 340512044
    assert exp.value("solana_node_epoch_number", target="agave") == 838
    assert exp.value("solana_node_num_slots_behind", target="agave") == 0
    assert exp.value("nodeops_node_head", target="heimdall") == 26112733
    promtool_check(exp.metrics_text())

    # Each chain's own notion of "not synced".
    s["solana"].set_scenario(os.path.join(FIXTURES, "solana", "behind"))
    r = wait_for(lambda: (lambda r: r if r.status_code == 503 else None)(exp.get("/ready?target=agave")),
                 what="solana behind")
    assert r.json()["reason"] == "agave: unhealthy (getHealth): 42 slots behind"
    wait_for(lambda: exp.value("solana_node_num_slots_behind", target="agave") == 42, what="numSlotsBehind")
    assert exp.value("solana_node_is_healthy", target="agave") == 0

    s["heimdall"].set_scenario(os.path.join(FIXTURES, "heimdall", "catching_up"))
    r = wait_for(lambda: (lambda r: r if r.status_code == 503 else None)(exp.get("/ready?target=heimdall")),
                 what="heimdall catching up")
    assert r.json()["reason"] == "heimdall: catching_up"
    assert exp.value("nodeops_heimdall_catching_up", target="heimdall") == 1

    s["beacon"].set_scenario(os.path.join(FIXTURES, "beacon", "syncing"))
    r = wait_for(lambda: (lambda r: r if r.status_code == 503 else None)(exp.get("/ready?target=lighthouse")),
                 what="beacon syncing")
    assert "sync_distance 50354" in r.json()["reason"]
    r = exp.get("/ready")
    assert r.status_code == 503
    assert set(r.json()["targets"]) == {"lighthouse", "heimdall", "agave"}
    assert all(v != "ok" for v in r.json()["targets"].values())
    # Syncing nodes are still alive: their heads are not judged stalled before stall_after.
    assert exp.get("/live").status_code == 200
    promtool_check(exp.metrics_text())


# ---------------------------------------------------------------- solana gossip peers (getClusterNodes)

GOSSIP_CONFIG = """
interval: 300ms
peers_interval: {peers_interval}
peers_timeout: {peers_timeout}
peers_max_bytes: {peers_max_bytes}
max_head_age: 100000h
stall_after: 100000h
targets:
  - {{ name: agave, type: solana, url: "{solana}" }}
"""


def gossip_exporter(exporters, url, peers_interval="1s", peers_timeout="5s", peers_max_bytes="16MiB"):
    return exporters(config=GOSSIP_CONFIG.format(solana=url, peers_interval=peers_interval,
                                                 peers_timeout=peers_timeout, peers_max_bytes=peers_max_bytes))


def test_solana_gossip_peers_from_recorded_cluster(exporters):
    """The peer count is the recorded getClusterNodes minus the node itself (its getIdentity), and
    follows the cluster the node sees: an isolated node drops to its one entrypoint."""
    with FixtureServer(os.path.join(FIXTURES, "solana", "healthy")) as srv:
        exp = gossip_exporter(exporters, srv.url)
        assert wait_for(lambda: exp.value("nodeops_solana_gossip_peers", target="agave", chain="solana"),
                        what="gossip peers") == 11
        assert exp.value("nodeops_exporter_gossip_probe_errors_total", target="agave", chain="solana") == 0
        srv.set_scenario(os.path.join(FIXTURES, "solana", "isolated"))
        wait_for(lambda: exp.value("nodeops_solana_gossip_peers", target="agave") == 1, what="isolated node")
        # The health probe never asks the whole cluster; the gossip probe asks it once per interval.
        assert srv.hits["rpc getHealth"] > srv.hits["rpc getClusterNodes"]
        promtool_check(exp.metrics_text())


def test_solana_gossip_probe_is_off_at_zero_and_for_other_types(exporters):
    with FixtureServer(os.path.join(FIXTURES, "solana", "healthy")) as srv:
        exp = gossip_exporter(exporters, srv.url, peers_interval="0")
        wait_for(lambda: exp.value("solana_node_slot_height", target="agave"), what="health probe")
        text = exp.metrics_text()
        assert "nodeops_solana_gossip_peers{" not in text
        assert "nodeops_exporter_gossip_probe_errors_total{" not in text
        assert srv.hits.get("rpc getClusterNodes", 0) == 0


def test_solana_gossip_answer_is_bounded_in_bytes(exporters, tmp_path):
    """A cluster answer of mainnet size (4 000 nodes, about 2 MB) over peers_max_bytes fails the
    gossip probe (series gone, error counted, reason logged) and leaves the health probe alone;
    under a larger bound it is counted."""
    scenario = tmp_path / "mainnet_size"
    shutil.copytree(os.path.join(FIXTURES, "solana", "healthy"), scenario)
    nodes = [{"pubkey": f"Node{i:040d}", "gossip": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:8001",
              "tvu": None, "tpu": None, "tpuQuic": None, "tpuForwards": None, "tpuForwardsQuic": None,
              "tpuVote": None, "serveRepair": None, "rpc": None, "pubsub": None, "version": "2.2.14",
              "featureSet": 3294202862, "shredVersion": 50093, "padding": "x" * 250} for i in range(4000)]
    body = json.dumps({"jsonrpc": "2.0", "id": 2, "result": nodes}).encode()
    assert 1 << 20 < len(body) < 4 << 20
    (scenario / "getClusterNodes.json").write_bytes(body)
    with FixtureServer(str(scenario)) as srv:
        small = gossip_exporter(exporters, srv.url, peers_max_bytes="1MiB")
        wait_for(lambda: (small.value("nodeops_exporter_gossip_probe_errors_total", target="agave") or 0) >= 1,
                 what="oversized answer refused")
        assert small.value("nodeops_solana_gossip_peers", target="agave") is None
        wait_for(lambda: small.value("nodeops_node_up", target="agave") == 1, what="health probe unaffected")
        small.stdout.seek(0)
        failed = [json.loads(line) for line in small.stdout if '"gossip probe failed"' in line]
        assert failed and "getClusterNodes" in failed[0]["reason"], failed
        large = gossip_exporter(exporters, srv.url, peers_max_bytes="4MiB")
        assert wait_for(lambda: large.value("nodeops_solana_gossip_peers", target="agave"),
                        what="mainnet-size answer counted") == 4000


def test_solana_gossip_probe_that_never_answers_is_bounded_in_time(exporters):
    """getClusterNodes hangs: each gossip probe gives up at peers_timeout and is counted, while the
    health probe of the same node keeps answering."""
    release = threading.Event()
    with FixtureServer(os.path.join(FIXTURES, "solana", "healthy")) as srv:
        resolve = srv._resolve

        def hanging(key):
            if key == "rpc getClusterNodes":
                release.wait(30)
            return resolve(key)

        srv._resolve = hanging
        try:
            exp = gossip_exporter(exporters, srv.url, peers_interval="1s", peers_timeout="300ms")
            wait_for(lambda: (exp.value("nodeops_exporter_gossip_probe_errors_total", target="agave") or 0) >= 2,
                     what="timed-out gossip probes counted")
            assert exp.value("nodeops_solana_gossip_peers", target="agave") is None
            assert exp.get("/ready?target=agave").status_code == 200
        finally:
            release.set()


def test_bad_peers_interval_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text('peers_interval: 10ms\ntargets:\n  - { type: solana, url: "http://127.0.0.1:8899" }\n')
    p = subprocess.run([BIN, "exporter", "--config", str(path)], capture_output=True, timeout=20)
    assert p.returncode == 2
    assert f"{path}:1: peers_interval:" in p.stderr.decode(), p.stderr
    p = subprocess.run([BIN, "exporter", "--target", "solana=http://127.0.0.1:8899", "--peers-interval", "soon"],
                       capture_output=True, timeout=20)
    assert p.returncode == 2 and "--peers-interval" in p.stderr.decode(), p.stderr


def test_garbage_and_down_targets_yield_metrics_not_crashes(exporters):
    garbage = FixtureServer(os.path.join(FIXTURES, "garbage")).start()
    closed = free_port()
    try:
        exp = exporters(["--target", f"junk:evm={garbage.url}", "--target", f"gone:evm=http://127.0.0.1:{closed}",
                         "--target", f"jb:beacon={garbage.url}", "--target", f"js:solana={garbage.url}",
                         "--target", f"jh:heimdall={garbage.url},{garbage.url}"] + FAST)
        wait_for(lambda: (exp.value("nodeops_exporter_probe_errors_total", target="gone", reason="unreachable")
                          or 0) >= 3, what="errors counted")
        for t in ["junk", "gone", "jb", "js", "jh"]:
            assert exp.value("nodeops_node_up", target=t) == 0, t
            assert exp.value("nodeops_node_head", target=t) is None, t
        r = exp.get("/ready?target=junk")
        assert r.status_code == 503 and r.json()["reason"].startswith("junk: down"), r.text
        assert exp.get("/live").status_code == 200  # stall_after (10m default) has not passed
        assert exp.alive()
        promtool_check(exp.metrics_text())
    finally:
        garbage.stop()


# ---------------------------------------------------------------- process behaviour


def test_data_dirs_export_disk_metrics_per_volume(anvils, exporters, tmp_path):
    """Every volume of a node (execution data, consensus, accounts ...) gets its series, labelled
    with the volume and chain so alerts and dashboards can name it."""
    data, consensus = tmp_path / "data", tmp_path / "consensus"
    (data / "chaindata").mkdir(parents=True)
    (data / "chaindata" / "000001.ldb").write_bytes(b"x" * 100000)
    consensus.mkdir()
    node = anvils(block_time=1)
    exp = exporters(["--target", f"evm={node.url}", "--chain", "ethereum", "--data-dir", str(data),
                     "--data-dir", f"consensus={consensus}"] + FAST)
    used = wait_for(lambda: exp.value("eth_disk_usage_bytes", directory=str(data), volume="data", chain="ethereum"),
                    what="disk usage")
    assert used >= 100000
    wait_for(lambda: exp.value("eth_disk_usage_bytes", volume="consensus", chain="ethereum") is not None,
             what="second volume")
    size = exp.value("eth_disk_size_bytes", volume="data")
    free = exp.value("eth_disk_free_bytes", volume="data")
    available = exp.value("eth_disk_available_bytes", volume="data")
    assert size >= free >= available > 0


def test_sigterm_exits_zero(anvils, exporters):
    node = anvils(block_time=1)
    exp = exporters(["--target", f"evm={node.url}"] + FAST)
    assert exp.stop(signal.SIGTERM) == 0


def test_bad_config_names_file_line_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("interval: 5s\ntargets:\n  - { type: evm, url: \"http://127.0.0.1:8545\", colour: red }\n")
    p = subprocess.run([BIN, "exporter", "--config", str(path)], capture_output=True, timeout=20)
    assert p.returncode == 2
    assert f"{path}:3" in p.stderr.decode() and "colour" in p.stderr.decode(), p.stderr


def test_bad_target_flag_exits_two():
    p = subprocess.run([BIN, "exporter", "--target", "bitcoin=http://x:1"], capture_output=True, timeout=20)
    assert p.returncode == 2
    assert "bitcoin" in p.stderr.decode()
