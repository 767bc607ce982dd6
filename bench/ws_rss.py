"""Gateway RSS per open WebSocket connection: N clients (python3-websockets) connect to /eth, make one
call each and stay open; RSS before and after, from /proc.
    /usr/bin/python3 bench/ws_rss.py N        (NODEOPS_BIN, ANVIL_BIN as for the tests)
"""
import asyncio
import json
import pathlib
import resource
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "support")]
import websockets
from harness import Anvil, Nodeops, gateway_config, metric_value
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
N = int(sys.argv[1])

def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])

async def main(gw):
    url = gw.url("/eth").replace("http://", "ws://")
    base = rss(gw.proc.pid)
    conns = []
    for i in range(N):
        ws = await websockets.connect(url, ping_interval=None)
        await ws.send(json.dumps({"jsonrpc":"2.0","id":i,"method":"eth_chainId"}))
        await ws.recv()
        conns.append(ws)
    await asyncio.sleep(1)
    after = rss(gw.proc.pid)
    print(json.dumps({"connections": N, "rss_before_kib": base, "rss_after_kib": after,
                      "kib_per_connection": round((after - base) / N, 1),
                      "gauge": metric_value(gw.metrics(), "nodeops_gateway_websocket_connections")}))
    await asyncio.gather(*(c.close() for c in conns))

with Anvil(chain_id=1) as node:
    cfg = gateway_config({"eth": (1, [("a", node.url)])}, websocket="{ max_connections_per_ip: 100000 }")
    with Nodeops.gateway(cfg) as gw:
        asyncio.run(main(gw))
