"""Blue/green switches through the gateway's admin API and `nodeops rollout`, under steady client
load, against real anvil pools (issue 8).

Pools: blue = two anvils, green = two anvils, all auto-mining every second. A load thread sends
eth_blockNumber through the gateway the whole time and records every failed answer.
"""
from __future__ import annotations

import os
import pathlib
import secrets
import subprocess
import tempfile
import time

import pytest
import requests

from gateway_util import CallLoop
from harness import NODEOPS_BIN, Anvil, Nodeops, free_port, metric_value, wait_until

TOKEN = secrets.token_hex(16)
HEALTH_INTERVAL_S = 0.5


@pytest.fixture
def pools():
    nodes = {name: Anvil(chain_id=1, block_time=1) for name in ("blue-a", "blue-b", "green-a", "green-b")}
    yield nodes
    for n in nodes.values():
        n.stop()


def start_gateway(pools, state_file: pathlib.Path, token: bool = True) -> Nodeops:
    token_file = pathlib.Path(tempfile.mkstemp(suffix=".token")[1])
    token_file.write_text(TOKEN + "\n")
    ups = "\n".join(f'      - {{ name: {n}, url: "{a.url}", pool: {n.split("-")[0]} }}' for n, a in pools.items())
    config = f"""listen: 127.0.0.1:{free_port()}
admin_listen: 127.0.0.1:{free_port()}
{"admin_token_file: " + str(token_file) if token else ""}
state_file: {state_file}
limits: {{ upstream_timeout: 1s, request_timeout: 5s }}
chains:
  - name: ethereum
    chain_id: 1
    max_lag_blocks: 3
    health_interval: {int(HEALTH_INTERVAL_S * 1000)}ms
    active_pool: blue
    min_healthy: 2
    upstreams:
{ups}
"""
    gw = Nodeops.gateway(config)
    wait_until("all four upstreams in rotation",
               lambda: all(u["healthy"] for u in gw.status()["chains"][0]["upstreams"]), procs=[gw])
    return gw


def admin(gw, method: str, path: str, body=None, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, gw.admin_url(path), json=body, headers=headers, timeout=5)


def traffic(gw) -> dict:
    return gw.status()["chains"][0]["traffic"]


def served_by(gw, pool: str) -> float:
    text = gw.metrics()
    total = 0.0
    for name in (f"{pool}-a", f"{pool}-b"):
        total += metric_value(text, "nodeops_gateway_upstream_requests_total", upstream=name, outcome="ok") or 0
    return total


def rollout_cli(gw, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, NODEOPS_ADMIN_TOKEN=TOKEN)
    return subprocess.run([str(NODEOPS_BIN), "rollout", *args, "--gateway", gw.admin_url(""), "--chain", "ethereum"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_switch_is_refused_while_green_is_not_synced(pools, tmp_path):
    gw = start_gateway(pools, tmp_path / "state.json")
    with gw, CallLoop(gw.url("/ethereum"), pause=0.01) as load:
        for n in ("green-a", "green-b"):
            pools[n].pause_mining()
        for n in ("blue-a", "blue-b"):
            pools[n].mine(10)
        wait_until("green out of rotation", lambda: not any(
            u["healthy"] for u in gw.status()["chains"][0]["upstreams"] if u["pool"] == "green"), procs=[gw])
        green_before = served_by(gw, "green")
        r = rollout_cli(gw, "switch", "--to", "green", "--steps", "50,100", "--bake", "1s")
        assert r.returncode == 1
        assert "refused" in r.stderr and "green has 0 healthy" in r.stderr, r.stderr
        time.sleep(1)
        assert traffic(gw) == {"blue": 100}
        assert served_by(gw, "green") == green_before
        assert metric_value(gw.metrics(), "nodeops_gateway_rollouts_total", result="refused") == 1
    assert load.ok > 0 and not load.failed, load.failed[:3]


def test_stepped_switch_completes_without_a_failed_request(pools, tmp_path):
    gw = start_gateway(pools, tmp_path / "state.json")
    with gw, CallLoop(gw.url("/ethereum"), pause=0.01) as load:
        r = rollout_cli(gw, "switch", "--to", "green", "--steps", "10,50,100", "--bake", "2s",
                        "--max-error-ratio", "0.01", "--max-p99", "2s")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "completed" in r.stdout
        status = gw.status()["chains"][0]
        assert status["active_pool"] == "green" and status["traffic"] == {"green": 100}
        metrics = gw.metrics()
        assert metric_value(metrics, "nodeops_gateway_active_pool", pool="green") == 1
        assert metric_value(metrics, "nodeops_gateway_active_pool", pool="blue") == 0
        assert metric_value(metrics, "nodeops_gateway_rollouts_total", result="completed") == 1
        green_after = served_by(gw, "green")
        time.sleep(1)
        assert served_by(gw, "green") > green_after  # traffic now lands on green
    assert load.ok > 50 and not load.failed, load.failed[:3]
    assert '"msg":"rollout completed"' in gw.log()


def test_green_failing_mid_switch_rolls_back_within_one_bake(pools, tmp_path):
    gw = start_gateway(pools, tmp_path / "state.json")
    bake_s = 6
    with gw, CallLoop(gw.url("/ethereum"), pause=0.01) as load:
        r = admin(gw, "POST", "/admin/rollout",
                  {"chain": "ethereum", "to": "green", "steps": [50, 100], "bake": f"{bake_s}s"})
        assert r.status_code == 202, r.text
        wait_until("50% on green", lambda: traffic(gw).get("green") == 50, procs=[gw])
        time.sleep(1)
        failed_at = time.monotonic()
        for n in ("green-a", "green-b"):
            pools[n].proc.kill()
        state = wait_until("rollback", lambda: (s := admin(gw, "GET", "/admin/rollout?chain=ethereum").json())
                           ["phase"] == "rolled_back" and s, timeout=bake_s + 5, procs=[gw])
        assert time.monotonic() - failed_at < bake_s, "rollback took longer than one bake period"
        assert "green" in state["reason"]
        assert traffic(gw) == {"blue": 100}
        assert gw.status()["chains"][0]["active_pool"] == "blue"
        assert metric_value(gw.metrics(), "nodeops_gateway_rollouts_total", result="rolled_back") == 1
        time.sleep(1)
    assert load.ok > 50 and not load.failed, load.failed[:3]


def test_admin_api_without_the_token_changes_nothing(pools, tmp_path):
    gw = start_gateway(pools, tmp_path / "state.json")
    with gw:
        body = {"chain": "ethereum", "to": "green", "steps": [100], "bake": "1s"}
        for token in (None, "wrong-token-wrong-token", TOKEN[:-1]):
            r = admin(gw, "POST", "/admin/rollout", body, token=token)
            assert r.status_code == 401, (token, r.status_code, r.text)
            assert admin(gw, "GET", "/admin/rollout?chain=ethereum", token=token).status_code == 401
            assert admin(gw, "POST", "/admin/rollout/abort", {"chain": "ethereum"}, token=token).status_code == 401
        time.sleep(1)
        assert traffic(gw) == {"blue": 100}
        assert admin(gw, "GET", "/admin/rollout?chain=ethereum").json()["phase"] == "idle"


def test_admin_api_is_off_without_a_token_file(pools, tmp_path):
    gw = start_gateway(pools, tmp_path / "state.json", token=False)
    with gw:
        r = admin(gw, "POST", "/admin/rollout", {"chain": "ethereum", "to": "green"})
        assert r.status_code == 404 and "admin API is off" in r.text


def test_rollout_state_survives_a_restart_and_abort_goes_back(pools, tmp_path):
    state = tmp_path / "state.json"
    gw = start_gateway(pools, state)
    with gw:
        r = rollout_cli(gw, "switch", "--to", "green", "--steps", "100", "--bake", "1s")
        assert r.returncode == 0, r.stderr
    # Restarted with the same config (active_pool: blue) and state file: green stays active.
    gw2 = start_gateway(pools, state)
    with gw2:
        assert gw2.status()["chains"][0]["active_pool"] == "green"
        assert traffic(gw2) == {"green": 100}
        r = admin(gw2, "POST", "/admin/rollout", {"chain": "ethereum", "to": "blue", "steps": [50, 100], "bake": "30s"})
        assert r.status_code == 202
        wait_until("50% on blue", lambda: traffic(gw2).get("blue") == 50, procs=[gw2])
        r = rollout_cli(gw2, "abort")
        assert r.returncode == 0, r.stderr
        assert traffic(gw2) == {"green": 100}
        assert admin(gw2, "GET", "/admin/rollout?chain=ethereum").json()["phase"] == "aborted"
        # A switch in flight when the gateway dies is undone at the next start.
        r = admin(gw2, "POST", "/admin/rollout", {"chain": "ethereum", "to": "blue", "steps": [50, 100], "bake": "30s"})
        assert r.status_code == 202
        wait_until("50% on blue", lambda: traffic(gw2).get("blue") == 50, procs=[gw2])
        gw2.proc.kill()
        gw2.proc.wait()
    gw3 = start_gateway(pools, state)
    with gw3:
        assert traffic(gw3) == {"green": 100}
        st = admin(gw3, "GET", "/admin/rollout?chain=ethereum").json()
        assert st["phase"] == "rolled_back" and "restarted" in st["reason"]
