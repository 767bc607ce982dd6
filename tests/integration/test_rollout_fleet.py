"""Blue/green switches across a fleet of three gateway replicas, coordinated by `nodeops rollout switch`
(issue 18 item 5), against real anvil pools.

Pools: blue = two anvils, green = two anvils, all mining every second, shared by every replica;
replica c sees green through its own second node (green-c) instead of green-b, so a green node that
dies only from c's point of view is a gate failure of one replica. The replicas name each other in
`rollout.peers`, as the chart does with the headless admin Service.
"""
from __future__ import annotations

import os
import queue
import secrets
import signal
import subprocess
import tempfile
import threading
import pathlib

import pytest
import requests

from fault_upstream import FaultUpstream
from gateway_util import CallLoop, require_binaries
from harness import NODEOPS_BIN, Anvil, Nodeops, free_port, metric_value, wait_until

pytestmark = require_binaries()

TOKEN = secrets.token_hex(16)
CHAIN = "ethereum"


@pytest.fixture
def nodes():
    ns = {name: Anvil(chain_id=1, block_time=1) for name in ("blue-a", "blue-b", "green-a", "green-b", "green-c")}
    yield ns
    for n in ns.values():
        n.stop()


class Fleet:
    """Three gateway replicas (a, b, c) that know each other as peers; c's green pool is green-a + green-c."""

    def __init__(self, nodes, names=("a", "b", "c"), urls=None):
        self.nodes = nodes
        self.urls_of = urls or {}  # replica -> {upstream: url}: what one replica reaches instead
        self.token_file = pathlib.Path(tempfile.mkstemp(suffix=".token")[1])
        self.token_file.write_text(TOKEN + "\n")
        self.admin_ports = {n: free_port() for n in names}
        self.listen_ports = {n: free_port() for n in names}
        self.gw: dict[str, Nodeops] = {}
        for n in names:
            self.start(n)

    def config(self, name: str, peers=None) -> str:
        green = ["green-a", "green-c" if name == "c" else "green-b"]
        urls = {u: self.urls_of.get(name, {}).get(u, self.nodes[u].url) for u in ["blue-a", "blue-b", *green]}
        ups = "\n".join(f'      - {{ name: {u}, url: "{url}", pool: {u.split("-")[0]} }}' for u, url in urls.items())
        peers = peers if peers is not None else [f"127.0.0.1:{p}" for p in self.admin_ports.values()]
        return f"""listen: 127.0.0.1:{self.listen_ports.get(name) or free_port()}
admin_listen: 127.0.0.1:{self.admin_ports.get(name) or free_port()}
admin_token_file: {self.token_file}
limits: {{ upstream_timeout: 1s, request_timeout: 5s }}
rollout:
  peers: [{", ".join(peers)}]
  sync_interval: 500ms
chains:
  - name: {CHAIN}
    chain_id: 1
    max_lag_blocks: 3
    health_interval: 500ms
    active_pool: blue
    min_healthy: 2
    # Failed calls must not take an upstream out of rotation here: the error-ratio gate is under test.
    passive_health: {{ consecutive_failures: 1000, error_ratio: 1, min_calls: 1000000 }}
    upstreams:
{ups}
"""

    def start(self, name: str) -> Nodeops:
        gw = Nodeops.gateway(self.config(name))
        self.gw[name] = gw
        return gw

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.admin_ports.values()]

    def close(self):
        for g in self.gw.values():
            g.stop()


@pytest.fixture
def fleet(nodes):
    f = Fleet(nodes)
    yield f
    f.close()


def rollout_state(gw) -> dict:
    return requests.get(gw.admin_url(f"/admin/rollout?chain={CHAIN}"),
                        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()


def traffic(gw) -> dict:
    return gw.status()["chains"][0]["traffic"]


class Cli:
    """`nodeops rollout switch` running in the background; its output lines in a queue."""

    def __init__(self, fleet: Fleet, *args, by_name: bool = False):
        env = dict(os.environ, NODEOPS_ADMIN_TOKEN=TOKEN)
        argv = [str(NODEOPS_BIN), "rollout", "switch", "--chain", CHAIN, "--to", "green", *args]
        for port in fleet.admin_ports.values():
            # by_name: found through --fleet name:port, as the headless admin Service is in a cluster.
            argv += ["--fleet", f"127.0.0.1:{port}"] if by_name else ["--gateway", f"http://127.0.0.1:{port}"]
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.out.append(line)
            self.lines.put(line)

    def wait_line(self, prefix: str, timeout: float = 60) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line starting with {prefix!r} in {timeout}s; got {self.out}")
            if line.startswith(prefix):
                return line

    def wait(self, timeout: float = 120) -> tuple[int, str, str]:
        rc = self.proc.wait(timeout)
        return rc, "".join(self.out), self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_a_switch_moves_every_replica_in_lockstep(fleet):
    cli = Cli(fleet, "--steps", "10,50,100", "--bake", "3s", "--max-p99", "2s")
    try:
        assert "on 3 replicas" in cli.wait_line("switching")
        for percent in (10, 50, 100):
            cli.wait_line(f"shifting {percent}%")
            # The coordinator prints a step once every replica holds it: all three agree now.
            for name, gw in fleet.gw.items():
                st = rollout_state(gw)
                assert (st["phase"], st["percent"]) == ("shifting", percent), (name, st)
                expected = {"green": 100} if percent == 100 else {"blue": 100 - percent, "green": percent}
                assert traffic(gw) == expected, name
                assert st["coordinated"] and st["switch_id"]
        rc, out, err = cli.wait()
    finally:
        cli.kill()
    assert rc == 0, out + err
    assert "completed: ethereum on green (3 of 3 replicas told)" in out
    epochs = set()
    for name, gw in fleet.gw.items():
        st = rollout_state(gw)
        assert st["phase"] == "completed" and st["active_pool"] == "green", (name, st)
        assert traffic(gw) == {"green": 100}
        epochs.add(st["epoch"])
        assert metric_value(gw.metrics(), "nodeops_gateway_active_pool", pool="green") == 1
        assert metric_value(gw.metrics(), "nodeops_gateway_rollouts_total", result="completed") == 1
    assert len(epochs) == 1
    # `rollout status` over the fleet: one line per replica, and they agree.
    env = dict(os.environ, NODEOPS_ADMIN_TOKEN=TOKEN)
    argv = [str(NODEOPS_BIN), "rollout", "status", "--chain", CHAIN]
    for url in fleet.urls():
        argv += ["--gateway", url]
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 3


def test_a_replica_killed_mid_switch_rejoins_at_the_fleets_step(fleet):
    cli = Cli(fleet, "--steps", "10,50,100", "--bake", "8s", "--max-p99", "2s", "--max-unreachable", "60s")
    try:
        cli.wait_line("shifting 10%")
        fleet.gw["b"].proc.kill()
        fleet.gw["b"].proc.wait()
        cli.wait_line("shifting 50%")  # moved on without b (unreachable, within --max-unreachable)
        b = fleet.start("b")  # same config, same ports: a pod recreated by its Deployment
        # Before the coordinator's next step, b holds the fleet's step (from its peers or the coordinator).
        wait_until("b at the fleet's step", lambda: traffic(b) == {"blue": 50, "green": 50}, timeout=30, procs=[b])
        assert rollout_state(b)["phase"] == "shifting"
        assert not any(line.startswith("shifting 100%") for line in cli.out), cli.out
        rc, out, err = cli.wait()
    finally:
        cli.kill()
    assert rc == 0, out + err
    for name, gw in fleet.gw.items():
        st = rollout_state(gw)
        assert (st["phase"], st["active_pool"]) == ("completed", "green"), (name, st)
    # A replica that starts after the switch (the HPA's) takes the fleet's pool from its peers,
    # although its config still says active_pool: blue.
    late = Nodeops.gateway(fleet.config("late"))
    with late:
        wait_until("late replica on green", lambda: traffic(late) == {"green": 100}, procs=[late])
        assert late.status()["chains"][0]["active_pool"] == "green"
        assert '"msg":"rollout state adopted from a peer"' in late.log()
        text = late.metrics()
        assert metric_value(text, "nodeops_gateway_rollout_adopted_total", chain=CHAIN) >= 1
        assert metric_value(text, "nodeops_gateway_rollout_peer_answers_total", result="ok") >= 1
        epochs = {metric_value(gw.metrics(), "nodeops_gateway_rollout_epoch", chain=CHAIN)
                  for gw in [late, *fleet.gw.values()]}
        assert len(epochs) == 1 and epochs.pop() > 0


def test_a_replica_started_mid_switch_follows_the_fleet_through_its_peers_alone(fleet):
    # The coordinator names a, b and c only; d (an HPA scale-up it has not resolved) learns every
    # transition from its peers: it joins the running step, then takes the completion.
    cli = Cli(fleet, "--steps", "50,100", "--bake", "4s", "--max-p99", "2s")
    try:
        cli.wait_line("shifting 50%")
        d = Nodeops.gateway(fleet.config("d"))
        with d:
            wait_until("d at the fleet's step", lambda: traffic(d) == {"blue": 50, "green": 50}, timeout=30, procs=[d])
            assert rollout_state(d)["switch_id"] == rollout_state(fleet.gw["a"])["switch_id"]
            rc, out, err = cli.wait()
            assert rc == 0, out + err
            wait_until("d completed", lambda: rollout_state(d)["phase"] == "completed", timeout=30, procs=[d])
            assert traffic(d) == {"green": 100} and d.status()["chains"][0]["active_pool"] == "green"
            assert metric_value(d.metrics(), "nodeops_gateway_rollout_adopted_total", chain=CHAIN) >= 2  # the step it joined, the completion
    finally:
        cli.kill()


def test_a_gate_failure_on_one_replica_rolls_back_all(fleet, nodes):
    cli = Cli(fleet, "--steps", "50,100", "--bake", "60s", "--max-p99", "2s")
    try:
        cli.wait_line("shifting 50%")
        nodes["green-c"].proc.kill()  # only replica c has it: green is unhealthy from c's point of view alone
        rc, out, err = cli.wait()
    finally:
        cli.kill()
    assert rc == 1, out + err
    assert "rolled_back" in err and "green" in err, err
    for name, gw in fleet.gw.items():
        st = rollout_state(gw)
        assert st["phase"] == "rolled_back" and st["active_pool"] == "blue", (name, st)
        assert traffic(gw) == {"blue": 100}, name
    # a and b still see a healthy green: they rolled back because the fleet did.
    for name in ("a", "b"):
        ups = fleet.gw[name].status()["chains"][0]["upstreams"]
        assert all(u["healthy"] for u in ups if u["pool"] == "green"), (name, ups)


def test_the_fleets_error_ratio_rolls_back_all(nodes):
    # Replica a reaches green-b through a proxy that breaks every call (probes stay honest, so green
    # stays healthy everywhere): only the error ratio of the fleet's calls to green can fail.
    with FaultUpstream(nodes["green-b"].url, "html", scope="calls") as broken:
        fleet = Fleet(nodes, urls={"a": {"green-b": broken.url}})
        try:
            with CallLoop(fleet.gw["a"].url(f"/{CHAIN}"), pause=0.005):
                cli = Cli(fleet, "--steps", "50,100", "--bake", "60s", "--max-p99", "5s", "--max-error-ratio", "0.05")
                try:
                    rc, out, err = cli.wait()
                finally:
                    cli.kill()
            assert rc == 1 and "rolled_back: fleet: pool green error ratio" in err, out + err
            for name, gw in fleet.gw.items():
                st = rollout_state(gw)
                assert st["phase"] == "rolled_back" and traffic(gw) == {"blue": 100}, (name, st)
                ups = gw.status()["chains"][0]["upstreams"]
                assert all(u["healthy"] for u in ups if u["pool"] == "green"), (name, ups)
        finally:
            fleet.close()


def test_replicas_roll_back_on_their_own_when_the_coordinator_dies(fleet):
    cli = Cli(fleet, "--steps", "50,100", "--bake", "60s", "--lease", "2s", "--max-p99", "2s")
    try:
        cli.wait_line("shifting 50%")
        cli.proc.send_signal(signal.SIGKILL)
        cli.proc.wait()
    finally:
        cli.kill()
    for name, gw in fleet.gw.items():
        st = wait_until(f"{name} rolled back", lambda: (s := rollout_state(gw))["phase"] == "rolled_back" and s,
                        timeout=30, procs=[gw])
        assert "lease" in st["reason"], st
        assert traffic(gw) == {"blue": 100} and st["active_pool"] == "blue"
    # And a later switch starts from that state: the fleet agrees on blue.
    cli = Cli(fleet, "--steps", "100", "--bake", "1s", "--max-p99", "2s")
    try:
        rc, out, err = cli.wait()
    finally:
        cli.kill()
    assert rc == 0, out + err
    assert all(traffic(gw) == {"green": 100} for gw in fleet.gw.values())


def test_an_interrupted_coordinator_aborts_every_replica(fleet):
    cli = Cli(fleet, "--steps", "50,100", "--bake", "60s", "--max-p99", "2s", by_name=True)
    try:
        assert "on 3 replicas" in cli.wait_line("switching")
        cli.wait_line("shifting 50%")
        cli.proc.send_signal(signal.SIGINT)
        rc, out, err = cli.wait()
    finally:
        cli.kill()
    assert rc == 1 and "aborted" in err, out + err
    for name, gw in fleet.gw.items():
        st = rollout_state(gw)
        assert st["phase"] == "aborted" and traffic(gw) == {"blue": 100}, (name, st)


def test_switch_is_refused_when_the_replicas_disagree(fleet):
    # One replica switched on its own (replica-driven): the fleet is split, a coordinated switch refuses.
    env = dict(os.environ, NODEOPS_ADMIN_TOKEN=TOKEN)
    r = subprocess.run([str(NODEOPS_BIN), "rollout", "switch", "--gateway", fleet.urls()[0], "--chain", CHAIN,
                        "--to", "green", "--steps", "100", "--bake", "100ms", "--no-wait"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    wait_until("a on green", lambda: rollout_state(fleet.gw["a"])["phase"] == "completed")
    cli = Cli(fleet, "--steps", "100", "--bake", "1s")
    try:
        rc, out, err = cli.wait()
    finally:
        cli.kill()
    assert rc == 1 and "disagree on the active pool" in err, err
    assert traffic(fleet.gw["b"]) == {"blue": 100}


@pytest.mark.parametrize("args, message", [
    (["--steps", "10,abc,100"], "--steps: 'abc' is not a number"),
    (["--steps", "50,10,100"], "steps must rise"),
    (["--steps", "10,50"], "the last step must be 100"),
    (["--bake", "soon"], "--bake soon: expected a duration"),
    (["--lease", "200ms"], "--lease must be at least 1s"),
    (["--fleet", ":9100"], "--fleet :9100: expected name:port"),
    (["--fleet", "no-such-gateway.invalid:9100"], "no gateway replica found"),
])
def test_bad_switch_arguments_are_clear_errors(args, message):
    env = dict(os.environ, NODEOPS_ADMIN_TOKEN=TOKEN)
    gateway = [] if "--fleet" in args else ["--gateway", f"http://127.0.0.1:{free_port()}"]
    r = subprocess.run([str(NODEOPS_BIN), "rollout", "switch", "--chain", CHAIN, "--to", "green", *gateway, *args],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and message in r.stderr, r.stderr
