"""The real `nodeops up` stack for the e2e tests, on its own ports and state dir.

    stack = LocalStack.start(tmp_path)               # examples/local.yaml, every port moved
    stack.rpc("ethereum", "eth_chainId")            # through the gateway
    stack.node_rpc("eth-c", "eth_blockNumber")      # one node, directly
    stack.stop_mining("eth-c"); stack.catch_up("eth-c", "eth-a")   # `nodeops node pause|resume`
    stack.pause_node("eth-b"); stack.resume_node("eth-b")          # SIGSTOP / SIGCONT
    stack.alerts()                                  # Alertmanager GET /api/v2/alerts
    stack.stop()                                    # SIGTERM, as Ctrl-C would

The stack file is written from examples/local.yaml (the one `make run` uses) with every port
replaced by a free one, `state_dir` in the temp dir and `monitoring_dir` absolute, so a test never
collides with a developer's running `make run`.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

import pytest
import requests
import yaml
from harness import ANVIL_BIN, NODEOPS_BIN, REPO, free_port, rpc, upstream_of, wait_until

LOCAL_YAML = REPO / "examples" / "local.yaml"


def require(path_or_name: str, hint: str) -> str:
    """Resolves a program; skips the module without it, or fails under ctest (NODEOPS_REQUIRE_BIN=1)."""
    found = path_or_name if os.access(path_or_name, os.X_OK) else shutil.which(path_or_name)
    if found:
        return found
    message = f"{path_or_name} not found ({hint})"
    if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_stack_programs(monitoring: bool = True) -> None:
    require(str(NODEOPS_BIN), "build it: cmake --build build/release --target nodeops")
    require(str(ANVIL_BIN), "make bootstrap")
    if monitoring:
        require("prometheus", "apt-get install prometheus")
        if not (shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")):
            require("prometheus-alertmanager", "apt-get install prometheus-alertmanager")


def stack_config(tmp: pathlib.Path, monitoring: bool = True, nodes: list[str] | None = None) -> dict:
    """examples/local.yaml with free ports, state under `tmp`. `nodes` keeps only those nodes."""
    cfg = yaml.safe_load(LOCAL_YAML.read_text())
    cfg["state_dir"] = str(tmp / "state")
    cfg["monitoring_dir"] = str(REPO / "monitoring")
    cfg["anvil"] = str(ANVIL_BIN)
    if nodes is not None:
        cfg["nodes"] = [n for n in cfg["nodes"] if n["name"] in nodes]
    for n in cfg["nodes"]:
        n["port"] = free_port()
    cfg["gateway"]["listen"] = f"127.0.0.1:{free_port()}"
    cfg["gateway"]["admin_listen"] = f"127.0.0.1:{free_port()}"
    cfg["exporter"]["listen"] = f"127.0.0.1:{free_port()}"
    cfg["monitoring"]["enabled"] = monitoring
    cfg["monitoring"]["prometheus_listen"] = f"127.0.0.1:{free_port()}"
    cfg["monitoring"]["alertmanager_listen"] = f"127.0.0.1:{free_port()}"
    return cfg


class LocalStack:
    def __init__(self, cfg: dict, tmp: pathlib.Path, args=(), env=None):
        self.cfg = cfg
        self.tmp = tmp
        self.file = tmp / "stack.yaml"
        self.file.write_text(yaml.safe_dump(cfg, sort_keys=False))
        self.state_dir = pathlib.Path(cfg["state_dir"])
        self.gateway = cfg["gateway"]["listen"]
        self.admin = cfg["gateway"]["admin_listen"]
        self.exporter = cfg["exporter"]["listen"]
        self.prometheus = cfg["monitoring"]["prometheus_listen"]
        self.alertmanager = cfg["monitoring"]["alertmanager_listen"]
        self.monitoring = cfg["monitoring"]["enabled"]
        self.nodes = {n["name"]: n for n in cfg["nodes"]}
        self.log_path = tmp / "up.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(NODEOPS_BIN), "up", "-f", str(self.file), *args], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp,
                                     env={**os.environ, **(env or {})}, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"nodeops up exited with {self.proc.returncode}:\n{self.log()[-3000:]}")

    @classmethod
    def start(cls, tmp: pathlib.Path, monitoring: bool = True, nodes=None, args=(), env=None,
              wait: bool = True, timeout: float = 60) -> "LocalStack":
        s = cls(stack_config(tmp, monitoring, nodes), tmp, args, env)
        if wait:
            s.wait_ready(timeout)
        return s

    # ---- waiting -------------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 60) -> None:
        """Every component answers: nodes, gateway ready on every chain, exporter, Prometheus, Alertmanager."""
        procs = [self]
        wait_until("state.json", lambda: self.state_file.exists(), timeout=timeout, procs=procs)
        for name in self.nodes:
            wait_until(f"node {name}", lambda name=name: self.node_rpc(name, "eth_chainId").get("result"),
                       timeout=timeout, procs=procs)
        # /readyz says the gateway can serve; /readyz/<chain> that the chain has a healthy upstream.
        for chain in sorted({n["chain"] for n in self.nodes.values()}):
            wait_until(f"gateway /readyz/{chain}",
                       lambda chain=chain: requests.get(self.admin_url(f"/readyz/{chain}"), timeout=2).ok,
                       timeout=timeout, procs=procs)
        wait_until("exporter /metrics", lambda: "nodeops_node_up" in requests.get(self.exporter_url("/metrics"), timeout=2).text,
                   timeout=timeout, procs=procs)
        if self.monitoring:
            wait_until("prometheus ready", lambda: requests.get(self.prom_url("/-/ready"), timeout=2).ok,
                       timeout=timeout, procs=procs)
            wait_until("alertmanager ready", lambda: requests.get(self.am_url("/-/ready"), timeout=2).ok,
                       timeout=timeout, procs=procs)

    # ---- addresses -----------------------------------------------------------------------------
    @property
    def state_file(self) -> pathlib.Path:
        return self.state_dir / "state.json"

    def gateway_url(self, chain: str) -> str:
        return f"http://{self.gateway}/{chain}"

    def admin_url(self, path: str = "/") -> str:
        return f"http://{self.admin}{path}"

    def exporter_url(self, path: str = "/") -> str:
        return f"http://{self.exporter}{path}"

    def prom_url(self, path: str) -> str:
        return f"http://{self.prometheus}{path}"

    def am_url(self, path: str) -> str:
        return f"http://{self.alertmanager}{path}"

    def node_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.nodes[name]['port']}"

    def ports(self) -> list[int]:
        addrs = [self.gateway, self.admin, self.exporter]
        if self.monitoring:
            addrs += [self.prometheus, self.alertmanager]
        return [n["port"] for n in self.nodes.values()] + [int(a.rsplit(":", 1)[1]) for a in addrs]

    # ---- calls ---------------------------------------------------------------------------------
    def rpc(self, chain: str, method: str, params=None, timeout: float = 15):
        return rpc(self.gateway_url(chain), method, params, timeout=timeout)

    def node_rpc(self, name: str, method: str, params=None, timeout: float = 5):
        return rpc(self.node_url(name), method, params, timeout=timeout)

    def node_head(self, name: str) -> int:
        return int(self.node_rpc(name, "eth_blockNumber")["result"], 16)

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def child(self, name: str) -> dict:
        for c in self.state()["children"]:
            if c["name"] == name:
                return c
        raise KeyError(name)

    def status(self) -> dict:
        return requests.get(self.admin_url("/status"), timeout=5).json()

    def upstream(self, chain: str, name: str) -> dict:
        return upstream_of(self.status(), chain, name)

    def prom_query(self, expr: str) -> list:
        r = requests.get(self.prom_url("/api/v1/query"), params={"query": expr}, timeout=5).json()
        assert r["status"] == "success", r
        return r["data"]["result"]

    def prom_targets(self) -> list:
        return requests.get(self.prom_url("/api/v1/targets"), timeout=5).json()["data"]["activeTargets"]

    def alerts(self, name: str | None = None, **labels) -> list:
        """Alerts Alertmanager holds (active, suppressed or unprocessed; resolved ones are gone)."""
        alerts = requests.get(self.am_url("/api/v2/alerts"), timeout=5).json()
        return [a for a in alerts
                if (name is None or a["labels"].get("alertname") == name)
                and all(a["labels"].get(k) == v for k, v in labels.items())]

    # ---- node control --------------------------------------------------------------------------
    def pause_node(self, name: str) -> None:
        """Freezes the node process (SIGSTOP): the port stays bound but nothing answers, like a hung
        node. The supervisor sees no exit, so it does not restart it."""
        os.kill(self.child(name)["pid"], signal.SIGSTOP)

    def resume_node(self, name: str) -> None:
        os.kill(self.child(name)["pid"], signal.SIGCONT)

    def node_command(self, action: str, name: str) -> str:
        """`nodeops node ACTION NAME` on this stack (pause, fork, resume); returns its output."""
        out = subprocess.run([str(NODEOPS_BIN), "node", action, name, "--state-dir", str(self.state_dir)],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, f"nodeops node {action} {name}: {out.returncode} {out.stdout}{out.stderr}"
        return out.stdout

    def stop_mining(self, name: str) -> None:
        """The stack's miner leaves the node alone: its head stops, it lags behind its pool."""
        self.node_command("pause", name)

    def block_hash(self, name: str, height: int) -> str | None:
        block = self.node_rpc(name, "eth_getBlockByNumber", [hex(height), False]).get("result")
        return block["hash"] if block else None

    def catch_up(self, name: str, reference: str, timeout: float = 30) -> int:
        """Mines `name` with its pool again (`nodeops node resume`); the miner replays the blocks it
        missed. Waits until it holds `reference`'s block at `reference`'s height of now, and returns
        how many blocks it was behind."""
        behind = max(0, self.node_head(reference) - self.node_head(name))
        self.node_command("resume", name)
        height = self.node_head(reference)
        wait(f"{name} caught up with {reference} at {height}",
             lambda: self.block_hash(name, height) == self.block_hash(reference, height), timeout, stack=self)
        return behind

    # ---- stopping ------------------------------------------------------------------------------
    def stop(self, timeout: float = 30) -> int:
        """SIGTERM to `nodeops up` (what Ctrl-C does) and waits for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"nodeops up did not exit within {timeout}s of SIGTERM")
        return self.proc.returncode

    def kill(self) -> None:
        """Last-resort cleanup: SIGCONT (a frozen child cannot exit) then SIGTERM every child we know."""
        pids = []
        try:
            pids = [c["pid"] for c in self.state()["children"] if c["pid"] > 0]
        except (OSError, ValueError, KeyError):
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        try:
            self.stop()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # what a restarted server does
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait(what: str, check, timeout: float, interval: float = 0.5, stack: LocalStack | None = None):
    """wait_until with the stack's supervisor as a process that must stay alive."""
    return wait_until(what, check, timeout=timeout, interval=interval, procs=[stack] if stack else ())
