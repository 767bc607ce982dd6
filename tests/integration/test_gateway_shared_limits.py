"""Rate limits shared across gateway replicas through a real redis-server (`rate_limits.redis`).

- Two gateway processes, one Redis: a client at twice its limit, its calls alternating between
  the replicas, gets about its limit in total (per-address bucket, and an API key's bucket) — the
  same load against two replicas without Redis gets nearly everything through, which is what the
  shared bucket is for.
- Redis killed mid-load: every call is still answered (fail open to the replica's own buckets),
  nodeops_gateway_rate_limit_redis_failures_total rises; Redis back on its port: the gateways
  reconnect by themselves and the failures stop.

Run: NODEOPS_BIN=build/release/nodeops PYTHONPATH=tests/support:tests/integration \
     /usr/bin/python3 -m pytest tests/integration/test_gateway_shared_limits.py
"""
from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests

from gateway_util import body, require_binaries
from harness import Anvil, Nodeops, gateway_config, metric_value, wait_until
from test_cache_redis import REDIS, Redis

pytestmark = require_binaries()
if not REDIS:
    pytest.skip("redis-server missing (scripts/bootstrap.sh installs it)", allow_module_level=True)

KEY = "shared-limit-key-0001"
RPS, BURST = 10, 5
FAILURES = "nodeops_gateway_rate_limit_redis_failures_total"


@pytest.fixture(scope="module")
def anvil():
    a = Anvil(chain_id=1)
    yield a
    a.stop()


def gateways(anvil, tmp_path, redis_port: int | None, n: int = 2) -> list[Nodeops]:
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"keys:\n  - name: shared\n    sha256: {hashlib.sha256(KEY.encode()).hexdigest()}\n"
                    f"    rps: {RPS}\n    burst: {BURST}\n")
    redis = f', redis: "redis://127.0.0.1:{redis_port}/3"' if redis_port else ""
    out = []
    for _ in range(n):
        out.append(Nodeops.gateway(gateway_config(
            {"eth": (1, [("a", anvil.url)])}, threads=2,
            auth=f"{{ mode: optional, keys_file: {keys} }}",
            rate_limits=f"{{ per_ip_rps: {RPS}, per_ip_burst: {BURST}{redis} }}")))
    return out


def load(gws: list[Nodeops], rate: float, seconds: float, headers: dict) -> tuple[int, int, float, list[int]]:
    """Calls at `rate`/s, alternating between the gateways; (passed, limited, elapsed, passed per gateway)."""
    sessions = [requests.Session() for _ in gws]
    passed, limited, per_gw = 0, 0, [0] * len(gws)
    n = int(rate * seconds)
    start = time.monotonic()
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        g = i % len(gws)
        r = sessions[g].post(gws[g].url("/eth"), data=json.dumps(body("eth_chainId", id=i)),
                             headers={"Content-Type": "application/json", **headers}, timeout=10)
        if r.status_code == 200:
            assert r.json()["result"] == "0x1", r.text
            passed += 1
            per_gw[g] += 1
        else:
            assert r.status_code == 429, r.text
            assert r.json()["error"]["code"] == -32005
            assert int(r.headers["Retry-After"]) >= 1
            limited += 1
    return passed, limited, time.monotonic() - start, per_gw


@pytest.mark.parametrize("who", ["address", "key"])
def test_a_client_at_twice_its_limit_across_two_replicas_gets_its_limit_in_total(anvil, tmp_path, who):
    headers = {"Authorization": f"Bearer {KEY}"} if who == "key" else {}
    redis = Redis()
    gws = gateways(anvil, tmp_path, redis.port)
    try:
        wait_until("both gateways connected to redis",
                   lambda: all(metric_value(g.metrics(), "nodeops_gateway_rate_limit_redis_connected") == 2
                               for g in gws), procs=gws)
        passed, limited, elapsed, per_gw = load(gws, 2 * RPS, 6, headers)
        expected = BURST + RPS * elapsed
        print(f"{who}: shared: {passed} passed ({per_gw}), {limited} limited in {elapsed:.2f}s; "
              f"expected about {expected:.0f}")
        assert 0.75 * expected <= passed <= 1.2 * expected + 2, (passed, expected)
        # Which replica's calls pass is the phase of the refill against the alternation (a
        # token comes every 100 ms, calls every 50 ms): only the total is the client's limit.
        for g in gws:
            m = g.metrics()
            assert metric_value(m, FAILURES, reason="down") == 0 and metric_value(m, FAILURES, reason="error") == 0
        assert redis_keys(redis), "the buckets live in Redis"
    finally:
        for g in gws:
            g.stop()
        redis.stop()
    # The same load against two replicas that do not share: each sees only its own half, at its
    # limit, and lets nearly all of it through.
    gws = gateways(anvil, tmp_path, None)
    try:
        passed, limited, elapsed, per_gw = load(gws, 2 * RPS, 6, headers)
        print(f"{who}: per replica: {passed} passed ({per_gw}), {limited} limited")
        assert passed >= 0.8 * (2 * RPS * 6), (passed, "without sharing each replica lets its half through")
    finally:
        for g in gws:
            g.stop()


def redis_keys(redis: Redis) -> list[str]:
    import subprocess
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "-n", "3", "--scan", "--pattern", "nodeops:ratelimit:*"],
                         capture_output=True, text=True, timeout=5)
    return [k for k in out.stdout.splitlines() if k]


def test_redis_down_fails_open_and_comes_back(anvil, tmp_path):
    redis = Redis()
    port = redis.port
    gws = gateways(anvil, tmp_path, port, n=1)
    gw = gws[0]
    try:
        wait_until("connected", lambda: metric_value(gw.metrics(), "nodeops_gateway_rate_limit_redis_connected") == 2,
                   procs=gws)
        redis.stop()
        # Within the burst: every call is served although its bucket cannot be checked in Redis.
        for i in range(BURST - 1):
            r = requests.post(gw.url("/eth"), data=json.dumps(body("eth_chainId", id=i)),
                              headers={"Content-Type": "application/json"}, timeout=10)
            assert r.status_code == 200 and r.json()["result"] == "0x1", r.text
        m = gw.metrics()
        failed = (metric_value(m, FAILURES, reason="down") or 0) + (metric_value(m, FAILURES, reason="error") or 0)
        assert failed >= BURST - 1, m
        assert metric_value(m, "nodeops_gateway_rate_limit_redis_connected") == 0
        # Over the limit while Redis is down: the replica's own bucket still refuses (fail open to
        # local limits, not to no limits).
        passed, limited, elapsed, _ = load(gws, 4 * RPS, 3, {})
        assert limited > 0, (passed, limited)
        # Redis back on the same port: the gateway reconnects by itself, failures stop.
        redis = Redis(port=port)
        wait_until("reconnected", lambda: metric_value(gw.metrics(), "nodeops_gateway_rate_limit_redis_connected") == 2,
                   timeout=30, procs=gws)
        time.sleep(1.5)  # the local bucket refills; then calls are checked in Redis again
        m = gw.metrics()
        before = metric_value(m, FAILURES, reason="down") + metric_value(m, FAILURES, reason="error")
        r = requests.post(gw.url("/eth"), data=json.dumps(body("eth_chainId", id=99)),
                          headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 200, r.text
        m = gw.metrics()
        assert metric_value(m, FAILURES, reason="down") + metric_value(m, FAILURES, reason="error") == before
        assert redis_keys(redis), "the call was counted in Redis again"
    finally:
        gw.stop()
        redis.stop()
    assert "shared rate limits unavailable: charging the local buckets" in gw.log()
