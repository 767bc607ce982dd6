#!/usr/bin/env python3
"""The cacheable workload (issue 15): one anvil with 300 blocks (50 of them with a transfer), then wrk
against it directly, through nginx caching POST bodies (bench/cache_nginx.conf) and through the
nodeops gateway with its response cache, one after the other with the same mix: historical blocks,
receipts, balances and eth_call at old blocks, 10% eth_blockNumber (which the gateway never caches).
Then a fill phase (BENCH_FILL [40s] of distinct final calls) brings the cache to its max_bytes and
reads the gateway's RSS. Prints a table (req/s, p50, p99, the gateway's hit ratio and RSS) and appends it, with the command
and the machine, to bench/RESULTS.md.

    python3 bench/cache.py [path/to/nodeops]

Environment: BENCH_DURATION [10s], BENCH_WARMUP [2s], BENCH_CONNECTIONS [32], BENCH_THREADS [2],
BENCH_WORKERS [nproc], BENCH_RESULTS [bench/RESULTS.md; - for none], BENCH_NOTE, ANVIL, WRK, NGINX.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
NODEOPS = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build/release/nodeops").resolve()
ANVIL = os.environ.get("ANVIL", str(ROOT / ".tools/bin/anvil"))
WRK = os.environ.get("WRK", "wrk")
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
DURATION = os.environ.get("BENCH_DURATION", "10s")
WARMUP = os.environ.get("BENCH_WARMUP", "2s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "32")
THREADS = os.environ.get("BENCH_THREADS", "2")
WORKERS = os.environ.get("BENCH_WORKERS", str(os.cpu_count()))
RESULTS = os.environ.get("BENCH_RESULTS", str(ROOT / "bench/RESULTS.md"))
FILL = os.environ.get("BENCH_FILL", "40s")  # the fill phase: long enough to reach max_bytes
DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

procs: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str, method: str, params=None):
    data = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


def wait_rpc(url: str, proc: subprocess.Popen, what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"bench: {what} exited at startup")
        try:
            if "result" in rpc(url, "eth_chainId"):
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"bench: {what} did not answer at {url}")


def start(argv, log: pathlib.Path) -> subprocess.Popen:
    p = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def stop(p: subprocess.Popen) -> None:
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def workload(anvil: str) -> list[str]:
    """The mix, one body per line, all with id 1 (so nginx, keying on the body, can hit at all)."""
    txs = []
    for _ in range(50):  # automine: one block per transfer
        txs.append(rpc(anvil, "eth_sendTransaction", [{"from": DEV, "to": "0x" + "11" * 20, "value": "0x1"}])["result"])
    rpc(anvil, "anvil_mine", ["0xfa"])  # 250 more: head 300, finalized 236
    calls = []
    for n in range(1, 201):
        calls.append(("eth_getBlockByNumber", [hex(n), n % 2 == 0]))
    for h in txs:
        calls += [("eth_getTransactionReceipt", [h])] * 2
    for n in range(1, 101):
        calls.append(("eth_getBalance", [DEV, hex(n)]))
        calls.append(("eth_call", [{"to": "0x0000000000000000000000000000000000000004", "data": hex(n)}, hex(n)]))
    misses = len(calls) // 9  # 10% of the mix
    calls += [("eth_blockNumber", [])] * misses
    # Interleave so every stretch of the run has the same mix.
    calls.sort(key=lambda c: hash(json.dumps(c)) % 1000)
    return [json.dumps({"jsonrpc": "2.0", "id": 1, "method": m, "params": p}) for m, p in calls]


def run_wrk(url: str, bodies: pathlib.Path) -> dict:
    env = {**os.environ, "BENCH_BODIES": str(bodies)}
    lua = str(ROOT / "bench/cache.lua")
    subprocess.run([WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{WARMUP}", "-s", lua, url], env=env,
                   capture_output=True, check=True)
    out = subprocess.run([WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}", "-s", lua, url], env=env,
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"BENCH (.*)", out)
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="nodeops-cache-bench."))
    tmp.chmod(0o755)  # nginx's workers (nobody, when started as root) keep their cache files in it
    anvil_port = free_port()
    anvil = start([ANVIL, "--host", "127.0.0.1", "--port", str(anvil_port), "--silent"], tmp / "anvil.log")
    anvil_url = f"http://127.0.0.1:{anvil_port}/"
    wait_rpc(anvil_url, anvil, "anvil")
    bodies = tmp / "bodies.txt"
    bodies.write_text("\n".join(workload(anvil_url)) + "\n")
    rows = []
    try:
        rows.append(("direct anvil", run_wrk(anvil_url, bodies), ""))

        port = free_port()
        conf = (ROOT / "bench/cache_nginx.conf").read_text()
        for k, v in {"@TMP@": str(tmp), "@WORKERS@": WORKERS, "@PORT@": str(port), "@ANVIL_PORT@": str(anvil_port)}.items():
            conf = conf.replace(k, v)
        (tmp / "nginx.conf").write_text(conf)
        nginx = start([NGINX, "-p", str(tmp), "-e", str(tmp / "nginx-error.log"), "-c", str(tmp / "nginx.conf")],
                      tmp / "nginx.log")
        wait_rpc(f"http://127.0.0.1:{port}/", nginx, "nginx")
        rows.append(("nginx proxy_cache (POST body key)", run_wrk(f"http://127.0.0.1:{port}/", bodies), ""))
        stop(nginx)

        port, admin = free_port(), free_port()
        (tmp / "gateway.yaml").write_text(
            f"listen: 127.0.0.1:{port}\nadmin_listen: 127.0.0.1:{admin}\nthreads: {WORKERS}\n"
            "cache: { enabled: true, max_bytes: 64MiB }\n"
            f"chains:\n  - name: ethereum\n    chain_id: 31337\n    upstreams:\n"
            f"      - {{ name: anvil, url: \"{anvil_url}\" }}\n")
        gw = start([str(NODEOPS), "gateway", "--config", str(tmp / "gateway.yaml")], tmp / "gateway.log")
        wait_rpc(f"http://127.0.0.1:{port}/", gw, "gateway")
        # Finality known before the run (the first probe round), so old blocks count as final.
        for _ in range(100):
            st = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{admin}/status", timeout=5).read())
            if st["chains"][0].get("finalized"):
                break
            time.sleep(0.1)
        r = run_wrk(f"http://127.0.0.1:{port}/", bodies)
        cache = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{admin}/status", timeout=5).read())["chains"][0]["cache"]
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
        held = re.search(r"^nodeops_gateway_cache_bytes (\S+)", metrics, re.M)
        rows.append(("nodeops gateway, cache on", r,
                     f"hit ratio {cache['hit_ratio']:.3f}, cache holds {float(held.group(1)) / 2**20:.1f} MiB "
                     f"of max_bytes 64 MiB, RSS {rss_mib(gw.pid):.0f} MiB"))
        # Fill: distinct final calls until the cache is at max_bytes, then the process's RSS.
        subprocess.run([WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{FILL}", "-s", str(ROOT / "bench/cache_fill.lua"),
                        f"http://127.0.0.1:{port}/"], capture_output=True, check=True)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
        value = lambda name: float(re.search(rf"^{name} (\S+)", metrics, re.M).group(1))
        fill = (f"after {FILL} of distinct final calls: the cache holds {value('nodeops_gateway_cache_bytes') / 2**20:.1f} "
                f"MiB of max_bytes 64 MiB in {value('nodeops_gateway_cache_entries'):.0f} entries "
                f"({value('nodeops_gateway_cache_evictions_total'):.0f} evicted); RSS {rss_mib(gw.pid):.0f} MiB")
        stop(gw)
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p)
        shutil.rmtree(tmp, ignore_errors=True)

    direct = rows[0][1]["rps"]
    lines = ["| target | req/s | × direct | p50 ms | p99 ms | non-2xx/errors | notes |", "|---|---|---|---|---|---|---|"]
    for name, r, note in rows:
        lines.append(f"| {name} | {r['rps']:.0f} | {r['rps'] / direct:.2f} | {r['p50_us'] / 1000:.2f} | "
                     f"{r['p99_us'] / 1000:.2f} | {r['non2xx']}/{r['errors']} | {note} |")
    table = "\n".join(lines) + f"\n\nMemory: {fill}."
    print(table)
    if RESULTS != "-":
        cpu = next((l.split(": ", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        load = open("/proc/loadavg").read().split()[:3]
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        note = os.environ.get("BENCH_NOTE", "")
        with open(RESULTS, "a") as f:
            f.write(f"\n## Cacheable workload, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
                    f"`python3 bench/cache.py` (wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}, {WORKERS} workers per "
                    f"proxy) at HEAD {head}; {cpu}, {os.cpu_count()} CPUs, load {' '.join(load)} at the end."
                    f"{' ' + note if note else ''}\n\n{table}\n")


if __name__ == "__main__":
    main()
