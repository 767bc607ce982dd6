"""The response cache's shared tier against a real redis-server (Debian's): two gateways share
final answers through it, unfinal ones stay local, and Redis dying mid-load loses no client call
and costs only its own timeout; when Redis comes back, the gateways reconnect by themselves.

A recording proxy (tests/support/fault_upstream.py, fault "none") counts what reaches the node."""
from __future__ import annotations

import json
import shutil
import subprocess
import threading

import signal

import requests

from fault_upstream import FaultUpstream
from gateway_util import DEV_ADDR, require_binaries
from harness import Anvil, Nodeops, Process, free_port, gateway_config, metric_value, wait_until

REDIS = shutil.which("redis-server")
pytestmark = require_binaries()


class Redis(Process):
    """A throwaway redis-server on a loopback port, nothing saved to disk."""

    def __init__(self, port: int | None = None):
        assert REDIS, "redis-server not found: make bootstrap installs it"
        self.port = port or free_port()
        super().__init__(f"redis-{self.port}", [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                                "--appendonly", "no"])
        wait_until("redis", self.ping, procs=[self])

    def ping(self) -> bool:
        out = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() == "PONG"

    def keys(self) -> list[str]:
        out = subprocess.run(["redis-cli", "-p", str(self.port), "-n", "2", "--scan", "--pattern", "nodeops:*"],
                             capture_output=True, text=True, timeout=5)
        return [k for k in out.stdout.splitlines() if k]


def cache(redis_port: int) -> str:
    return f'{{ enabled: true, max_bytes: 1MiB, max_entry_bytes: 64KiB, redis: "redis://127.0.0.1:{redis_port}/2" }}'


def ask(gw, method, params, id=1):
    r = requests.post(gw.url("/ethereum"), data=json.dumps({"jsonrpc": "2.0", "id": id, "method": method,
                                                           "params": params}),
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json(), r.headers.get("X-Cache")


def gateway(proxy, redis_port):
    return Nodeops.gateway(gateway_config({"ethereum": (1, [("n0", proxy.url)])}, cache=cache(redis_port)))


def connected(gw) -> bool:
    return (metric_value(gw.metrics(), "nodeops_gateway_cache_redis_connected") or 0) >= 1


def test_two_gateways_share_final_answers_and_keep_unfinal_ones_local():
    with Anvil(chain_id=1) as node, Redis() as redis, FaultUpstream(node.url, "none") as proxy:
        node.mine(100)  # finalized = 36
        with gateway(proxy, redis.port) as a, gateway(proxy, redis.port) as b:
            wait_until("both connected to redis", lambda: connected(a) and connected(b), procs=[a, b, redis])
            old_block = ["0x10", False]
            first, how = ask(a, "eth_getBlockByNumber", old_block)
            assert how == "MISS"
            wait_until("the final answer reached redis", lambda: len(redis.keys()) == 1, procs=[a, redis])
            calls = proxy.singles.count("eth_getBlockByNumber")
            second, how = ask(b, "eth_getBlockByNumber", old_block, id=7)
            assert how == "HIT", "gateway b did not find gateway a's final answer in redis"
            assert second["result"] == first["result"] and second["id"] == 7
            assert proxy.singles.count("eth_getBlockByNumber") == calls, "the shared hit still asked the node"
            assert metric_value(b.metrics(), "nodeops_gateway_cache_redis_lookups_total", result="hit") == 1
            # An answer at `latest` is never final: it is not written, and b asks the node itself.
            ask(a, "eth_getBalance", [DEV_ADDR, "latest"])
            _, how = ask(b, "eth_getBalance", [DEV_ADDR, "latest"])
            assert how == "MISS"
            assert len(redis.keys()) == 1, redis.keys()
            # `finalized` is resolved to block 36, so its answer is final and b finds it in Redis.
            wait_until("both know finality", lambda: all(c["finalized"] == 36 for g in (a, b)
                                                         for c in g.status()["chains"]), procs=[a, b])
            final_a, how = ask(a, "eth_getBlockByNumber", ["finalized", False])
            assert how == "MISS" and final_a["result"]["number"] == hex(36)
            wait_until("the finalized block reached redis", lambda: len(redis.keys()) == 2, procs=[a, redis])
            final_b, how = ask(b, "eth_getBlockByNumber", ["0x24", False])
            assert how == "HIT" and final_b["result"] == final_a["result"]


def test_redis_dying_mid_load_loses_no_call_and_the_gateway_reconnects():
    with Anvil(chain_id=1) as node, FaultUpstream(node.url, "none") as proxy:
        node.mine(100)
        port = free_port()
        redis = Redis(port)
        with gateway(proxy, port) as g:
            wait_until("connected to redis", lambda: connected(g), procs=[g, redis])
            failures: list[str] = []
            stop = threading.Event()

            def load(worker: int):
                s = requests.Session()
                n = 0
                while not stop.is_set():
                    n += 1
                    block = hex(1 + (worker * 1000 + n) % 36)  # final blocks: looked up in redis
                    r = s.post(g.url("/ethereum"), json={"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber",
                                                          "params": [block, False]}, timeout=10)
                    reply = r.json()
                    if r.status_code != 200 or "result" not in reply or reply["result"]["number"] != block:
                        failures.append(r.text[:200])

            threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            try:
                wait_until("lookups under load", lambda: (metric_value(g.metrics(), "nodeops_gateway_cache_redis_lookups_total",
                                                                       result="miss") or 0) > 20, procs=[g])
                redis.signal(signal.SIGKILL)
                redis.stop()
                wait_until("the gateway notices", lambda: not connected(g), procs=[g])
                errors_before = metric_value(g.metrics(), "nodeops_gateway_cache_redis_lookups_total", result="error") or 0
                wait_until("calls keep being served without redis",
                           lambda: (metric_value(g.metrics(), "nodeops_gateway_requests_total", chain="ethereum",
                                                 method="eth_getBlockByNumber", outcome="ok") or 0) > 200, procs=[g])
                assert (metric_value(g.metrics(), "nodeops_gateway_cache_redis_lookups_total", result="error") or 0) >= errors_before
                redis = Redis(port)  # back on the same port
                wait_until("reconnected by itself", lambda: connected(g), timeout=30, procs=[g, redis])
            finally:
                stop.set()
                for t in threads:
                    t.join()
                redis.stop()
            assert not failures, f"{len(failures)} calls failed while redis died: {failures[:3]}"
