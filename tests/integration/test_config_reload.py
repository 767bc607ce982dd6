"""Live config reload (docs/gateway.md, "Reloading the config"), with real anvil upstreams and the real
binary, under continuous load from concurrent clients: upstreams added, re-weighted and removed by a
Kubernetes-style `..data` symlink swap, a broken config rejected with file:line errors while the old one
keeps serving, SIGHUP, and a restart-only change reported — with no failed client call.

Run: NODEOPS_BIN=build/release/nodeops NODEOPS_REQUIRE_BIN=1 PATH=.tools/bin:$PATH \
     PYTHONPATH=tests/support:tests/integration python3 -m pytest -q tests/integration/test_config_reload.py
"""
import json
import os
import pathlib
import signal
import tempfile
import threading

import pytest
import requests

from gateway_util import require_binaries
from harness import Anvil, Nodeops, free_port, metric_value, wait_until

pytestmark = require_binaries()


def render(listen: str, admin: str, upstreams: list[tuple[str, str, dict]], extra: str = "") -> str:
    lines = [f"listen: {listen}", f"admin_listen: {admin}", "threads: 2", extra,
             "chains:", "  - name: ethereum", "    chain_id: 1337", "    health_interval: 500ms", "    upstreams:"]
    for name, url, opts in upstreams:
        keys = "".join(f", {k}: {v}" for k, v in opts.items())
        lines.append(f'      - {{ name: {name}, url: "{url}"{keys} }}')
    return "\n".join(lines) + "\n"


class ConfigMapDir:
    """A directory laid out like a mounted Kubernetes ConfigMap: config.yaml -> ..data/config.yaml,
    ..data -> ..<version>/; an update writes a new version and swaps ..data atomically (rename)."""

    def __init__(self, text: str):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="configmap-"))
        self.version = 0
        self._write_version(text)
        os.symlink("..data/config.yaml", self.root / "config.yaml")

    def _write_version(self, text: str) -> None:
        self.version += 1
        d = self.root / f"..2026_12_01_{self.version}"
        d.mkdir()
        (d / "config.yaml").write_text(text)
        tmp = self.root / "..data_tmp"
        os.symlink(d.name, tmp)
        os.rename(tmp, self.root / "..data")  # the atomic swap the kubelet does

    def update(self, text: str) -> None:
        self._write_version(text)

    @property
    def path(self) -> pathlib.Path:
        return self.root / "config.yaml"


class Load:
    """Concurrent clients calling the gateway in a loop; every answer must be a result."""

    def __init__(self, url: str, clients: int = 12):
        self.url = url
        self.stop = threading.Event()
        self.calls = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        session = requests.Session()
        n = 0
        while not self.stop.is_set():
            n += 1
            method = "eth_chainId" if n % 2 else "eth_blockNumber"
            try:
                r = session.post(self.url, json={"jsonrpc": "2.0", "id": n, "method": method, "params": []}, timeout=15)
                ok = r.status_code == 200 and "result" in r.json()
                problem = None if ok else f"{r.status_code} {r.text[:200]}"
            except Exception as e:  # a dropped connection is a failure too
                problem = repr(e)
            with self.lock:
                self.calls += 1
                if problem:
                    self.failures.append(problem)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=20)


def reloads(g: Nodeops, result: str) -> float:
    return metric_value(g.metrics(), "nodeops_gateway_config_reloads_total", result=result) or 0


def upstream_names(g: Nodeops) -> list[str]:
    return [u["name"] for u in g.status()["chains"][0]["upstreams"]]


def served(g: Nodeops, name: str) -> float:
    return metric_value(g.metrics(), "nodeops_gateway_upstream_requests_total", chain="ethereum", upstream=name,
                        outcome="ok") or 0


@pytest.fixture()
def anvils():
    nodes = [Anvil(chain_id=1337) for _ in range(3)]
    yield nodes
    for n in nodes:
        n.stop()


def test_reload_under_load_without_a_failed_call(anvils):
    a, b, c = anvils
    listen, admin = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    cm = ConfigMapDir(render(listen, admin, [("a", a.url, {}), ("b", b.url, {})]))
    g = Nodeops("gateway", ["gateway", "--config", str(cm.path)])
    g.listen, g.admin = listen, admin
    try:
        wait_until("gateway /healthz", lambda: requests.get(g.admin_url("/healthz"), timeout=1).ok, procs=[g])
        wait_until("first probe round", lambda: all(u.get("healthy") for u in g.status()["chains"][0]["upstreams"]),
                   procs=[g])
        for result in ("applied", "rejected", "unchanged"):
            assert reloads(g, result) == 0, result  # every result exists from the start
        first_hash = [line for line in g.metrics().splitlines() if line.startswith("nodeops_gateway_config_info{")]
        assert len(first_hash) == 1

        with Load(g.url("/ethereum")) as load:
            wait_until("load running", lambda: load.calls > 50, procs=[g])

            # 1. Add an upstream (symlink swap): it is probed, then takes traffic.
            cm.update(render(listen, admin, [("a", a.url, {}), ("b", b.url, {}), ("c", c.url, {})]))
            wait_until("reload applied", lambda: reloads(g, "applied") == 1, procs=[g])
            assert upstream_names(g) == ["a", "b", "c"]
            wait_until("c serves traffic", lambda: served(g, "c") > 0, procs=[g])
            assert "upstream c added" in g.log()

            # 2. Re-weight a: the same upstream object (its health is never reset to not_probed).
            a_before = served(g, "a")
            cm.update(render(listen, admin, [("a", a.url, {"weight": 5}), ("b", b.url, {}), ("c", c.url, {})]))
            wait_until("reweight applied", lambda: reloads(g, "applied") == 2, procs=[g])
            st = g.upstream("ethereum", "a")
            assert st["weight"] == 5 and st["healthy"], st
            assert "upstream a changed (kept): weight" in g.log()
            wait_until("a keeps serving", lambda: served(g, "a") > a_before, procs=[g])

            # 3. Remove b: it leaves the set and its health series go.
            cm.update(render(listen, admin, [("a", a.url, {"weight": 5}), ("c", c.url, {})]))
            wait_until("removal applied", lambda: reloads(g, "applied") == 3, procs=[g])
            assert upstream_names(g) == ["a", "c"]
            text = g.metrics()
            assert metric_value(text, "nodeops_gateway_upstream_healthy", chain="ethereum", upstream="b") is None
            assert metric_value(text, "nodeops_gateway_upstream_healthy", chain="ethereum", upstream="c") == 1
            b_after = served(g, "b")

            # 4. A broken config: rejected, every error logged as file:line: key: message, old one serves.
            cm.update(render(listen, admin, [("a", "ftp://nowhere", {}), ("c", c.url, {"wieght": 2})]))
            wait_until("rejected", lambda: reloads(g, "rejected") == 1, procs=[g])
            log = g.log()
            errors = [json.loads(line)["error"] for line in log.splitlines()
                      if line.startswith("{") and json.loads(line).get("msg") == "config error"]
            assert any("config.yaml:10: chains[0].upstreams[0].url:" in e for e in errors), errors
            assert any("config.yaml:11: chains[0].upstreams[1].wieght:" in e for e in errors), errors
            assert upstream_names(g) == ["a", "c"]
            assert metric_value(g.metrics(), "nodeops_gateway_config_last_reload_successful") == 0

            # 5. SIGHUP with the file fixed back: applied again... and SIGHUP once more: unchanged.
            cm.update(render(listen, admin, [("a", a.url, {"weight": 5}), ("c", c.url, {})]))
            wait_until("fixed file read", lambda: reloads(g, "unchanged") == 1, procs=[g])
            g.signal(signal.SIGHUP)
            wait_until("SIGHUP reload", lambda: reloads(g, "unchanged") == 2, procs=[g])
            assert metric_value(g.metrics(), "nodeops_gateway_config_last_reload_successful") == 1

            # 6. A restart-only change (listen) with a live one (b back): b applies, listen is reported.
            other = f"127.0.0.1:{free_port()}"
            cm.update(render(other, admin, [("a", a.url, {"weight": 5}), ("c", c.url, {}), ("b", b.url, {})]))
            wait_until("mixed reload applied", lambda: reloads(g, "applied") == 4, procs=[g])
            assert upstream_names(g) == ["a", "c", "b"]
            assert metric_value(g.metrics(), "nodeops_gateway_config_restart_required") == 1
            assert '"key":"listen"' in g.log()
            wait_until("b serves again", lambda: served(g, "b") > b_after, procs=[g])

            calls_before_end = load.calls
            wait_until("more load after the last reload", lambda: load.calls > calls_before_end + 50, procs=[g])

        print(f"reload under load: {load.calls} calls, {len(load.failures)} failed")
        assert load.failures == [], load.failures[:5]
        assert load.calls > 200
        hashes = [line for line in g.metrics().splitlines() if line.startswith("nodeops_gateway_config_info{")]
        assert len(hashes) == 1 and hashes != first_hash  # the loaded file's hash follows the file
        g.assert_alive()
    finally:
        g.stop()


def test_request_limits_reload_live(anvils):
    """limits.max_batch and the other request limits apply to the requests after a reload; the
    server's own limits (max_connections...) are reported as needing a restart."""
    a = anvils[0]
    listen, admin = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    cm = ConfigMapDir(render(listen, admin, [("a", a.url, {})]))
    g = Nodeops("gateway", ["gateway", "--config", str(cm.path)])
    g.listen, g.admin = listen, admin
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []} for i in range(3)]
    try:
        wait_until("first probe round", lambda: all(u.get("healthy") for u in g.status()["chains"][0]["upstreams"]),
                   procs=[g])
        answers = requests.post(g.url("/ethereum"), json=batch, timeout=10).json()
        assert [x["result"] for x in answers] == ["0x539"] * 3

        cm.update(render(listen, admin, [("a", a.url, {})], extra="limits: { max_batch: 2, max_connections: 50 }"))
        wait_until("limits reloaded", lambda: reloads(g, "applied") == 1, procs=[g])
        refused = requests.post(g.url("/ethereum"), json=batch, timeout=10).json()
        assert "over the limit of 2" in refused["error"]["message"], refused
        assert [x["result"] for x in requests.post(g.url("/ethereum"), json=batch[:2], timeout=10).json()] == ["0x539"] * 2
        assert "limits changed: max_batch" in g.log()
        assert '"key":"limits.max_connections"' in g.log()
        assert metric_value(g.metrics(), "nodeops_gateway_config_restart_required") == 1
        g.assert_alive()
    finally:
        g.stop()
