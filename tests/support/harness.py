"""Shared helpers for the integration and e2e tests: real processes on loopback, bounded waits.

    from harness import Anvil, Nodeops, free_port, rpc, wait_until

    with Anvil(chain_id=1) as node:                 # a real anvil on a free port
        node.rpc("evm_setIntervalMining", [0])
        with Nodeops.gateway(config_text) as gw:     # the real binary, config in a temp file
            rpc(gw.url("/ethereum"), "eth_blockNumber")

Every process is killed at the end of its `with` block (or by the atexit hook), every wait has a
deadline, and a process that dies early fails the wait with the tail of its log.
"""
from __future__ import annotations

import atexit
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
NODEOPS_BIN = pathlib.Path(os.environ.get("NODEOPS_BIN", REPO / "build" / "release" / "nodeops"))
ANVIL_BIN = pathlib.Path(os.environ.get("ANVIL_BIN", REPO / ".tools" / "bin" / "anvil"))
ARTIFACTS = pathlib.Path(os.environ.get("NODEOPS_ARTIFACTS", REPO / "build" / "test-artifacts"))

_live: list[subprocess.Popen] = []


@atexit.register
def _kill_all() -> None:
    for p in _live:
        if p.poll() is None:
            p.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, check, timeout: float = 20.0, interval: float = 0.1, procs=()):
    """Polls check() until it returns a truthy value; raises with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        for p in procs:
            p.assert_alive()
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - we report the last one
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def rpc(url: str, method: str, params=None, id=1, timeout: float = 10.0):
    """One JSON-RPC call; returns the decoded reply object (result or error)."""
    body = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        body["params"] = params
    r = requests.post(url, json=body, timeout=timeout)
    return r.json()


def post_raw(url: str, data: bytes | str, content_type: str = "application/json", timeout: float = 10.0):
    return requests.post(url, data=data, headers={"Content-Type": content_type}, timeout=timeout)


class Process:
    """A child process with its output in a log file."""

    def __init__(self, name: str, argv: list[str], cwd=None):
        self.name = name
        self.log_path = pathlib.Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd,
                                     start_new_session=True)
        _live.append(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")

    def signal(self, sig) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Anvil(Process):
    """A real Ethereum node. block_time=None mines on demand (use mine())."""

    def __init__(self, chain_id: int = 1, block_time: float | None = None, port: int | None = None,
                 extra: list[str] = ()):
        self.port = port or free_port()
        argv = [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", str(chain_id), "--silent"]
        if block_time is not None:
            argv += ["--block-time", str(block_time)]
        argv += list(extra)  # e.g. ["--timestamp", "1700000000", "--no-mining"] for lockstep replicas
        super().__init__(f"anvil-{self.port}", argv)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until(f"anvil on {self.port}", lambda: self.rpc("eth_chainId").get("result"), procs=[self])

    def rpc(self, method: str, params=None):
        return rpc(self.url, method, params, timeout=5)

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber")["result"], 16)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def pause_mining(self) -> None:
        self.rpc("evm_setAutomine", [False])
        self.rpc("evm_setIntervalMining", [0])


class Nodeops(Process):
    """The real nodeops binary with a config written to a temp file."""

    def __init__(self, name: str, args: list[str]):
        super().__init__(name, [str(NODEOPS_BIN), *args])

    @classmethod
    def gateway(cls, config: str, wait_ready: bool = True) -> "Nodeops":
        path = pathlib.Path(tempfile.mkstemp(prefix="gateway-", suffix=".yaml")[1])
        path.write_text(config)
        g = cls("gateway", ["gateway", "--config", str(path)])
        g.config_path = path
        g.listen = _find(config, "listen")
        g.admin = _find(config, "admin_listen")
        if wait_ready:
            wait_until("gateway /healthz", lambda: requests.get(g.admin_url("/healthz"), timeout=1).ok, procs=[g])
            # The gateway serves after its first probe round or 3 s, whichever comes first; on a
            # loaded machine that round can take longer, so wait for it to be tested on verdicts.
            wait_until("first probe round", lambda: all(u.get("state") != "not_probed" for c in g.status()["chains"]
                                                        for u in c["upstreams"]), procs=[g])
        return g

    def url(self, path: str = "/") -> str:
        return f"http://{self.listen}{path}"

    def admin_url(self, path: str = "/") -> str:
        return f"http://{self.admin}{path}"

    def status(self) -> dict:
        return requests.get(self.admin_url("/status"), timeout=5).json()

    def upstream(self, chain: str, name: str) -> dict:
        return upstream_of(self.status(), chain, name)

    def metrics(self) -> str:
        return requests.get(self.admin_url("/metrics"), timeout=5).text


def upstream_of(status: dict, chain: str, name: str) -> dict:
    """One upstream's entry in a gateway's /status document."""
    for c in status["chains"]:
        if c["name"] == chain:
            for u in c["upstreams"]:
                if u["name"] == name:
                    return u
    raise KeyError(f"{chain}/{name}")


def _find(config: str, key: str) -> str:
    for line in config.splitlines():
        if line.startswith(f"{key}:"):
            return line.split(":", 1)[1].strip()
    raise KeyError(key)


def metric_value(text: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus text, matched on name and the given labels."""
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


def gateway_config(chains: dict[str, tuple[int, list]], **extra) -> str:
    """Renders a gateway config. chains: name -> (chain_id, [(upstream_name, url, {opts})...][, {chain opts}]).

    `chain={...}` sets keys on every chain; a chain's own third element adds to or overrides them."""
    lines = [f"listen: 127.0.0.1:{free_port()}", f"admin_listen: 127.0.0.1:{free_port()}"]
    limits = extra.pop("limits", None)
    chain_opts = extra.pop("chain", {})
    for k, v in extra.items():
        lines.append(f"{k}: {v}")
    if limits:
        lines.append("limits:")
        lines += [f"  {k}: {v}" for k, v in limits.items()]
    lines.append("chains:")
    for name, (chain_id, ups, *own) in chains.items():
        opts = {**chain_opts, **(own[0] if own else {})}
        lines += [f"  - name: {name}", f"    chain_id: {chain_id}"]
        lines += [f"    {k}: {json.dumps(v) if isinstance(v, list) else v}" for k, v in opts.items()]
        lines.append("    upstreams:")
        for up in ups:
            uname, url, *opts = up
            o = opts[0] if opts else {}
            extra_keys = "".join(f", {k}: {v}" for k, v in o.items())
            lines.append(f'      - {{ name: {uname}, url: "{url}"{extra_keys} }}')
    return "\n".join(lines) + "\n"
