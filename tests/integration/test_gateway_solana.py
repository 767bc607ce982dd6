"""A Solana chain behind the gateway. No Agave node runs here, so the upstreams replay documented
Agave responses (tests/fixtures/solana, see its README) on loopback: health comes from getHealth
and getSlot, there is no chain id, and an unhealthy node (-32005, behind) leaves rotation."""
from __future__ import annotations

import requests

from fixture_server import FixtureServer
from harness import REPO, Nodeops, free_port, wait_until

FIXTURES = REPO / "tests" / "fixtures" / "solana"


def config(urls: dict[str, str]) -> str:
    ups = "\n".join(f'      - {{ name: {n}, url: "{u}" }}' for n, u in urls.items())
    return f"""listen: 127.0.0.1:{free_port()}
admin_listen: 127.0.0.1:{free_port()}
chains:
  - name: solana
    type: solana
    max_lag_blocks: 150
    health_interval: 300ms
    upstreams:
{ups}
"""


def upstreams(gw) -> dict:
    return {u["name"]: u for u in gw.status()["chains"][0]["upstreams"]}


def test_solana_pool_routes_and_drops_a_node_that_falls_behind():
    with FixtureServer(FIXTURES / "healthy") as a, FixtureServer(FIXTURES / "healthy") as b:
        with Nodeops.gateway(config({"a": a.url, "b": b.url})) as gw:
            wait_until("both in rotation", lambda: all(u["healthy"] for u in upstreams(gw).values()), procs=[gw])
            r = requests.post(gw.url("/solana"), json={"jsonrpc": "2.0", "id": 7, "method": "getSlot"}, timeout=5).json()
            assert r["id"] == 7 and isinstance(r["result"], int)
            b.set_scenario(FIXTURES / "behind")
            state = wait_until("b out of rotation", lambda: (u := upstreams(gw))["b"]["healthy"] is False and u,
                               procs=[gw])
            assert state["b"]["reason"] == "unhealthy (getHealth): 42 slots behind"
            assert state["b"]["state"] == "syncing"
            assert state["a"]["healthy"]
            hits_before = b.hits.get("rpc getSlot", 0)
            for i in range(20):
                r = requests.post(gw.url("/solana"), json={"jsonrpc": "2.0", "id": i, "method": "getSlot"}, timeout=5)
                assert "result" in r.json()
            # Only health probes reach b now; no client call does.
            assert b.hits.get("rpc getSlot", 0) - hits_before <= 4


def test_solana_chain_takes_no_chain_id():
    cfg = config({"a": "http://127.0.0.1:1"}).replace("type: solana", "type: solana\n    chain_id: 101")
    g = Nodeops.gateway(cfg, wait_ready=False)
    assert g.proc.wait(10) == 2
    assert "chain_id: only evm chains have a chain id" in g.log()
