#!/usr/bin/env python3
"""The gateway's memory and stability under hostile clients and upstreams, measured.

    python3 bench/hostile.py memory [NODEOPS]   peak RSS under (a) 5 000 head-only connections,
                                                (b) 20 clients sending batches of large eth_calls,
                                                (c) 1 MiB batches of empty objects; appends to RESULTS
    python3 bench/hostile.py soak [NODEOPS]     SOAK_SECONDS [600] of wrk load while a fault upstream
                                                cycles through its behaviours, with 10 MiB replies now
                                                and then; RSS before/during/after and crashes

Both start their own anvil and gateway on loopback and stop them. Results are appended to
bench/RESULTS.md (BENCH_RESULTS=- prints only). Figures, not assertions: `make test` holds none.
"""
from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from fault_upstream import FAULTS, FaultUpstream  # noqa: E402

ANVIL = os.environ.get("ANVIL", str(ROOT / ".tools" / "bin" / "anvil"))
RESULTS = os.environ.get("BENCH_RESULTS", str(ROOT / "bench" / "RESULTS.md"))
ADDR = "0x00000000000000000000000000000000000b0b00"
# Runtime code that returns 3 000 000 zero bytes: PUSH3 0x2dc6c0 PUSH1 0 RETURN (6 MB as hex).
BIG_CODE = "0x622dc6c06000f3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    cur = peak = 0.0
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cur, peak


def post(url: str, payload, timeout: float = 30.0) -> bytes:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        return e.read()


class Stack:
    """anvil (+ optional extra upstreams) behind the real gateway."""

    def __init__(self, nodeops: str, with_fault: bool = False):
        self.nodeops = nodeops
        self.anvil_port = free_port()
        self.anvil = subprocess.Popen([ANVIL, "--port", str(self.anvil_port), "--silent", "--block-time", "1",
                                       "--code-size-limit", "100000", "--gas-limit", "100000000"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.anvil_url = f"http://127.0.0.1:{self.anvil_port}"
        for _ in range(100):
            try:
                post(self.anvil_url, {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        self.fault = FaultUpstream(self.anvil_url, "huge", "both") if with_fault else None
        self.port, admin = free_port(), free_port()
        ups = [f'      - {{ name: anvil, url: "{self.anvil_url}" }}']
        if self.fault:
            ups.append(f'      - {{ name: fault, url: "{self.fault.url}" }}')
        cfg = (f"listen: 127.0.0.1:{self.port}\nadmin_listen: 127.0.0.1:{admin}\nlog_level: error\n"
               f"chains:\n  - name: eth\n    chain_id: 31337\n    health_interval: 1s\n"
               f"    upstreams:\n" + "\n".join(ups) + "\n")
        self.config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        self.config.write(cfg)
        self.config.close()
        self.log = tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False)
        # Room for 5 000 client sockets (plus upstream ones) in the gateway and in this process.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.start_gateway()
        self.url = f"http://127.0.0.1:{self.port}/eth"
        for _ in range(100):
            try:
                if b"result" in post(self.url, {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1):
                    break
            except OSError:
                pass
            time.sleep(0.1)

    def start_gateway(self):
        self.gateway = subprocess.Popen([self.nodeops, "gateway", "--config", self.config.name], stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def rss(self):
        return rss_mb(self.gateway.pid)

    def alive(self) -> bool:
        return self.gateway.poll() is None

    def stop(self):
        if self.fault:
            self.fault.close()
        for p in (self.gateway, self.anvil):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def head_only_connections(stack: Stack, n: int) -> float:
    """n connections, each a request head announcing 1 MiB and one body byte; peak RSS while held."""
    socks = []
    head = (f"POST /eth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{{").encode()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", stack.port))
        s.sendall(head)
        socks.append(s)
    time.sleep(2)
    _, peak = stack.rss()
    for s in socks:
        s.close()
    return peak


def big_eth_call_batches(stack: Stack, clients: int, seconds: float) -> tuple[float, dict]:
    """Clients sending batches of 10 eth_calls that each return 3 MB (6 MB of hex): peak RSS and
    the count of answers by kind ("result", or the JSON-RPC error code)."""
    call = lambda i: {"jsonrpc": "2.0", "id": i, "method": "eth_call",
                      "params": [{"to": ADDR, "gas": "0x3000000"}, "latest", {ADDR: {"code": BIG_CODE}}]}
    batch = json.dumps([call(i) for i in range(10)]).encode()
    counts: dict[str, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client():
        while time.monotonic() < stop:
            try:
                replies = json.loads(post(stack.url, batch, timeout=60))
            except (OSError, ValueError):
                continue
            with lock:
                for r in replies if isinstance(replies, list) else [replies]:
                    key = "result" if "result" in r else str(r.get("error", {}).get("code"))
                    counts[key] = counts.get(key, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    peak = 0.0
    while any(t.is_alive() for t in threads):
        peak = max(peak, stack.rss()[0])
        time.sleep(0.2)
    return max(peak, stack.rss()[1]), counts


def empty_object_batches(stack: Stack, clients: int, seconds: float) -> tuple[float, float, int]:
    """Clients sending 1 MiB batches of `{}`; meanwhile one client times single eth_chainId calls.
    Returns peak RSS, the worst single-call latency in ms, and batches sent."""
    body = b"[" + b",".join([b"{}"] * 349_000) + b"]"
    stop = time.monotonic() + seconds
    sent = [0]

    def client():
        while time.monotonic() < stop:
            try:
                post(stack.url, body, timeout=30)
                sent[0] += 1
            except OSError:
                pass

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    worst = 0.0
    while time.monotonic() < stop:
        t0 = time.monotonic()
        post(stack.url, {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=30)
        worst = max(worst, (time.monotonic() - t0) * 1000)
        time.sleep(0.05)
    for t in threads:
        t.join()
    return stack.rss()[1], worst, sent[0]


def machine() -> str:
    mem = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 * 10) / 10
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, {mem} GiB, Linux {platform.release()}; load average {load}"


def append(section: str) -> None:
    print(section)
    if RESULTS != "-":
        with open(RESULTS, "a") as f:
            f.write("\n" + section)


def memory(nodeops: str) -> None:
    stack = Stack(nodeops)
    try:
        idle = stack.rss()[0]
        a = head_only_connections(stack, 5000)
        stack.stop()
        stack = Stack(nodeops)
        b, answers = big_eth_call_batches(stack, 20, 20)
        stack.stop()
        stack = Stack(nodeops)
        c, worst, sent = empty_object_batches(stack, 4, 10)
        alive = stack.alive()
    finally:
        stack.stop()
    answers_text = ", ".join(f"{v} {k if k == 'result' else 'error ' + k}" for k, v in sorted(answers.items()))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    append(f"""## {now} — memory under hostile clients (`python3 bench/hostile.py memory`)

Machine: {machine()}. Gateway with its default limits (max_body 1 MiB, max_batch 100,
max_reply_bytes 64 MiB, max_buffered_bytes 256 MiB, batch_concurrency 16), one anvil upstream; each case on a
fresh gateway. Errors in (b): -32005 shed while the gateway held max_buffered_bytes, -32012 past the request
deadline (anvil takes seconds per batch under this load), -32014 a request's replies over max_reply_bytes.

| case | gateway peak RSS |
|---|---:|
| idle, after start | {idle:.0f} MB |
| (a) 5 000 connections, each a head announcing 1 MiB and 1 body byte | {a:.0f} MB |
| (b) 20 clients × batches of 10 `eth_call`s returning 3 MB each, 20 s (answers: {answers_text}) | {b:.0f} MB |
| (c) 4 clients × 1 MiB batches of 349 000 `{{}}`, 10 s ({sent} batches; worst single-call latency meanwhile {worst:.0f} ms) | {c:.0f} MB |

Gateway alive after all three: {"yes" if alive else "NO"}.
""")


def soak(nodeops: str) -> None:
    seconds = int(os.environ.get("SOAK_SECONDS", "600"))
    stack = Stack(nodeops, with_fault=True)
    before = stack.rss()[0]
    wrk = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(ROOT / "bench" / "post.lua"), stack.url],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples, crashes, step = [], 0, 0
    started = time.monotonic()
    while wrk.poll() is None:
        stack.fault.fault = FAULTS[step % len(FAULTS)]
        step += 1
        for _ in range(10):  # 10 s per behaviour
            time.sleep(1)
            if not stack.alive():
                crashes += 1
                stack.start_gateway()
                time.sleep(1)
            samples.append(stack.rss()[0])
        if step % 6 == 0:  # once a minute a 10 MiB reply (5 MiB of zeros as hex) on the honest path
            post(stack.url, {"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                             "params": [{"to": ADDR, "gas": "0x3000000"}, "latest",
                                        {ADDR: {"code": "0x62500000" + "6000f3"}}]}, timeout=30)
    out = wrk.stdout.read()
    time.sleep(3)
    after = stack.rss()[0] if stack.alive() else 0.0
    stack.stop()
    reqs = next((line for line in out.splitlines() if "Requests/sec" in line), "").strip()
    non2xx = next((line for line in out.splitlines() if "Non-2xx" in line), "Non-2xx or 3xx responses: 0").strip()
    samples = sorted(samples) or [0.0]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    append(f"""## {now} — soak (`SOAK_SECONDS={seconds} python3 bench/hostile.py soak`)

Machine: {machine()}. wrk `-t1 -c16` `eth_blockNumber` for {seconds} s through the gateway, whose upstreams are
one anvil and one fault upstream that changes behaviour every 10 s (every fault of tests/support/fault_upstream.py,
on probes and calls), with a 10 MiB `eth_call` reply once a minute.

- gateway RSS: before {before:.0f} MB, during max {samples[-1]:.0f} MB / median {samples[len(samples) // 2]:.0f} MB,
  after {after:.0f} MB
- crashes: **{crashes}**; wrk: {reqs or "no figure"}; {non2xx}; elapsed {time.monotonic() - started:.0f} s
""")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("memory", "soak"):
        sys.exit(__doc__)
    binary = sys.argv[2] if len(sys.argv) > 2 else str(ROOT / "build" / "release" / "nodeops")
    (memory if sys.argv[1] == "memory" else soak)(binary)
