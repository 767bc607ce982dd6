#!/usr/bin/env python3
"""Seeds tests/fuzz/corpus/probe_<adapter>/ from the recorded replies in tests/fixtures, plus the
hostile shapes real upstreams have sent (every result `{}`, wrong types, HTML, truncation).
Input format of the probe fuzz targets: one reply per probe call, NUL-separated; a leading '2'
means HTTP 200, '5' HTTP 500, 'x' a transport error. Rerun after adding fixtures."""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
OUT = ROOT / "tests" / "fuzz" / "corpus"

garbage = [p.read_bytes() for p in sorted((FIX / "garbage").iterdir()) if p.suffix in (".json", ".html")]
hostile = [b"{}", b"null", b"[]", b'{"result":{}}', b'{"data":{}}', b'{"result":null}', b'"\xff\xfe"',
           b'{"data":{"head_slot":"-1","sync_distance":"99999999999999999999999999999"}}',
           b"[" * 2000, b'{"result":{"sync_info":{"catching_up":"yes"}}}']


def write(adapter, name, replies):
    d = OUT / f"probe_{adapter}"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(b"\0".join(b"2" + r for r in replies))


def routes_dirs(family):
    for d in sorted((FIX / family).iterdir()):
        if (d / "routes.json").exists():
            yield d, [d / f for f in json.loads((d / "routes.json").read_text()).values()]


for family in ("beacon", "heimdall"):
    for d, files in routes_dirs(family):
        write(family, d.name, [f.read_bytes() for f in files])
    for i, g in enumerate(garbage + hostile):
        write(family, f"hostile_{i}", [g] * 6)

solana_order = ["getHealth.json", "getSlot.json", "getBlockHeight.json", "getEpochInfo.json", "getVersion.json"]
for d in sorted((FIX / "solana").iterdir()):
    if d.is_dir():
        write("solana", d.name, [(d / f).read_bytes() if (d / f).exists() else b"" for f in solana_order])
for i, g in enumerate(garbage + hostile):
    write("solana", f"hostile_{i}", [g] * 6)

# Solana's slow gossip probe: getIdentity, getClusterNodes (a whole-cluster array).
for d in sorted((FIX / "solana").iterdir()):
    if (d / "getClusterNodes.json").exists():
        write("solana_gossip", d.name, [(d / f).read_bytes() for f in ("getIdentity.json", "getClusterNodes.json")])
me = b'{"jsonrpc":"2.0","result":{"identity":"Me111"},"id":1}'
write("solana_gossip", "entries_of_every_type", [me, b'{"jsonrpc":"2.0","id":2,"result":[{"pubkey":"Me111",'
      b'"gossip":"1.2.3.4:8001"},{"pubkey":"Spy","gossip":null},{"gossip":""},7,null,[],"x",{"pubkey":{},'
      b'"gossip":["a"]},{"pubkey":"P","gossip":"9.9.9.9:8001"}]}'])
write("solana_gossip", "identity_not_a_string", [b'{"jsonrpc":"2.0","result":{"identity":42},"id":1}',
                                                 b'{"jsonrpc":"2.0","result":[],"id":2}'])
write("solana_gossip", "result_object", [me, b'{"jsonrpc":"2.0","result":{"nodes":[]},"id":2}'])
for i, g in enumerate(garbage + hostile):
    write("solana_gossip", f"hostile_{i}", [g] * 2)

# EVM: one batch reply (chainId, syncing, blockNumber, peerCount, clientVersion, latest block).
def evm_batch(syncing, block=None, chain="0x1", head="0x10"):
    items = [{"jsonrpc": "2.0", "id": 1, "result": chain}, {"jsonrpc": "2.0", "id": 2, "result": syncing},
             {"jsonrpc": "2.0", "id": 3, "result": head}, {"jsonrpc": "2.0", "id": 4, "result": "0x5"},
             {"jsonrpc": "2.0", "id": 5, "result": "Geth/v1.16.7-stable/linux-amd64/go1.24"},
             {"jsonrpc": "2.0", "id": 6, "result": block if block is not None else {"number": "0x10", "timestamp": "0x6560"}}]
    return json.dumps(items).encode()

for p in sorted((FIX / "evm" / "eth_syncing").iterdir()):
    doc = json.loads(p.read_text())
    write("evm", p.stem, [evm_batch(doc.get("result", doc) if isinstance(doc, dict) else doc)])
write("evm", "every_result_empty_object", [evm_batch({}, block={}, chain={}, head={})])
write("evm", "block_without_members", [evm_batch(False, block={})])
write("evm", "hex_over_2_256", [evm_batch(False, head="0x1" + "0" * 70)])
write("evm", "negative_and_empty", [evm_batch(False, head="-0x1", chain="")])
for i, g in enumerate(garbage + hostile):
    write("evm", f"hostile_{i}", [g])
