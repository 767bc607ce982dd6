#!/usr/bin/env python3
"""An https upstream (issue 17): one anvil behind an nginx that terminates TLS (the "provider", with a
certificate from a throwaway CA made here with the openssl CLI), then wrk (plain http, the same
eth_blockNumber POST as bench/run.sh) through two proxies that reach it over verified TLS with
keep-alive, one after the other:

- nginx: `proxy_pass https://` to an upstream block with `keepalive`, `proxy_ssl_verify on`, SNI and
  session reuse (bench/tls_nginx.conf);
- the nodeops gateway: an `https://` upstream with `ca_file` (bench/tls_gateway.yaml);
- the same gateway reaching the same terminator at `wss://` (JSON-RPC over one WebSocket per loop).

The TLS terminator alone (wrk over https) is the reference row. BENCH_ROUNDS rounds, interleaved; the
table shows medians. Prints the table and appends it, with the command and the machine, to
bench/RESULTS.md.

    python3 bench/tls.py [path/to/nodeops]

Environment: BENCH_DURATION [10s], BENCH_WARMUP [2s], BENCH_CONNECTIONS [32], BENCH_THREADS [2],
BENCH_WORKERS [nproc] (each proxy's workers; the terminator gets the same), BENCH_ROUNDS [1],
BENCH_RESULTS [bench/RESULTS.md; - for none], BENCH_NOTE, ANVIL, WRK, NGINX.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import socket
import statistics
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
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
DURATION = os.environ.get("BENCH_DURATION", "10s")
WARMUP = os.environ.get("BENCH_WARMUP", "2s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "32")
THREADS = os.environ.get("BENCH_THREADS", "2")
WORKERS = os.environ.get("BENCH_WORKERS", str(os.cpu_count()))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
RESULTS = os.environ.get("BENCH_RESULTS", str(ROOT / "bench/RESULTS.md"))

procs: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str) -> dict:
    data = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}).encode()
    return json.loads(urllib.request.urlopen(urllib.request.Request(url, data, {"Content-Type": "application/json"}),
                                             timeout=5).read())


def wait_rpc(url: str, proc: subprocess.Popen, what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"bench: {what} exited at startup")
        try:
            if "result" in rpc(url):
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"bench: {what} did not answer at {url}")


def start(argv, log: pathlib.Path) -> subprocess.Popen:
    p = subprocess.Popen([str(a) for a in argv], stdout=log.open("w"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def stop(p: subprocess.Popen) -> None:
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def openssl(cwd: pathlib.Path, *args: str) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: pathlib.Path) -> None:
    """ca.crt and a localhost certificate signed by it (tls.crt, tls.key)."""
    openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=NodeOps Bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl(d, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr",
            "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl(d, "x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "tls.crt", "-days", "2", "-extfile", "ext.cnf")


def fill(template: str, out: pathlib.Path, **values) -> None:
    text = (ROOT / "bench" / template).read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    out.write_text(text)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (nginx's workers) so far."""
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    for p in pids:
        try:
            fields = pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / hz


def run_wrk(url: str, pid: int | None = None) -> dict:
    lua = str(ROOT / "bench/post.lua")
    subprocess.run([WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{WARMUP}", "-s", lua, url], capture_output=True)
    cpu0 = cpu_seconds(pid) if pid else 0
    out = subprocess.run([WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION}", "-s", lua, url],
                         capture_output=True, text=True).stdout
    m = re.search(r"BENCH (.*)", out)
    if not m:
        sys.exit(f"bench: wrk printed no result for {url}:\n{out}")
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    r["cpu_us"] = (cpu_seconds(pid) - cpu0) * 1e6 / r["requests"] if pid and r["requests"] else 0
    return r


def main() -> None:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="nodeops-tls-bench."))
    tmp.chmod(0o755)
    make_pki(tmp)
    anvil_port, tls_port = free_port(), free_port()
    results: dict[str, list[dict]] = {"terminator": [], "nginx": [], "gateway": [], "gateway-wss": []}
    try:
        anvil = start([ANVIL, "--host", "127.0.0.1", "--port", anvil_port, "--quiet"], tmp / "anvil.log")
        wait_rpc(f"http://127.0.0.1:{anvil_port}/", anvil, "anvil")
        (tmp / "term").mkdir()
        fill("tls_terminator.conf", tmp / "term" / "nginx.conf", WORKERS=WORKERS, TMP=tmp / "term", PORT=tls_port,
             ANVIL_PORT=anvil_port, CERT_DIR=tmp)
        term = start([NGINX, "-p", tmp / "term", "-e", tmp / "term" / "error.log", "-c", tmp / "term" / "nginx.conf"],
                     tmp / "term.log")
        time.sleep(0.5)
        if term.poll() is not None:
            sys.exit("bench: the TLS terminator did not start: " + (tmp / "term.log").read_text())
        for rnd in range(ROUNDS):
            results["terminator"].append(run_wrk(f"https://localhost:{tls_port}/", term.pid))

            port = free_port()
            (tmp / "proxy").mkdir(exist_ok=True)
            fill("tls_nginx.conf", tmp / "proxy" / "nginx.conf", WORKERS=WORKERS, TMP=tmp / "proxy", PORT=port,
                 TLS_PORT=tls_port, CERT_DIR=tmp)
            ngx = start([NGINX, "-p", tmp / "proxy", "-e", tmp / "proxy" / "error.log", "-c", tmp / "proxy" / "nginx.conf"],
                        tmp / "proxy.log")
            wait_rpc(f"http://127.0.0.1:{port}/", ngx, "nginx proxy_pass https")
            results["nginx"].append(run_wrk(f"http://127.0.0.1:{port}/", ngx.pid))
            stop(ngx)

            for key, scheme in (("gateway", "https"), ("gateway-wss", "wss")):
                port, admin = free_port(), free_port()
                fill("tls_gateway.yaml", tmp / "gateway.yaml", WORKERS=WORKERS, PORT=port, ADMIN_PORT=admin,
                     TLS_PORT=tls_port, CERT_DIR=tmp)
                config = tmp / "gateway.yaml"
                config.write_text(config.read_text().replace('url: "https://', f'url: "{scheme}://'))
                gw = start([NODEOPS, "gateway", "--config", config], tmp / f"{key}.log")
                wait_rpc(f"http://127.0.0.1:{port}/", gw, key)
                r = run_wrk(f"http://127.0.0.1:{port}/", gw.pid)
                status = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{admin}/status", timeout=5).read())
                up = status["chains"][0]["upstreams"][0]
                metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
                conns = sum(float(l.rsplit(" ", 1)[1]) for l in metrics.splitlines()
                            if l.startswith("nodeops_gateway_upstream_connections{"))
                r["note"] = f"upstream {up['url']} tls={up['tls']}, {conns:.0f} upstream connections open after the run"
                results[key].append(r)
                stop(gw)
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p)
        shutil.rmtree(tmp, ignore_errors=True)

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    names = {"terminator": "TLS terminator alone (wrk over https, reference)",
             "nginx": "nginx proxy_pass https:// (keepalive 64, verify, SNI, session reuse)",
             "gateway": "nodeops gateway, https upstream (ca_file)",
             "gateway-wss": "nodeops gateway, wss upstream (ca_file; one WebSocket per loop)"}
    ref = med(results["nginx"], "rps")
    lines = ["| target | req/s | × nginx | p50 ms | p99 ms | its CPU µs/req | non-2xx/errors | notes |",
             "|---|---|---|---|---|---|---|---|"]
    for key, rows in results.items():
        lines.append(f"| {names[key]} | {med(rows, 'rps'):.0f} | {med(rows, 'rps') / ref:.2f} | "
                     f"{med(rows, 'p50_us') / 1000:.2f} | {med(rows, 'p99_us') / 1000:.2f} | {med(rows, 'cpu_us'):.1f} | "
                     f"{sum(r['non2xx'] for r in rows)}/{sum(r['errors'] for r in rows)} | {rows[-1].get('note', '')} |")
    table = "\n".join(lines)
    print(table)
    if RESULTS != "-":
        cpu = next((l.split(": ", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        load = open("/proc/loadavg").read().split()[:3]
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        note = os.environ.get("BENCH_NOTE", "")
        with open(RESULTS, "a") as f:
            f.write(f"\n## https upstream, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
                    f"`python3 bench/tls.py` (wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}, {WORKERS} workers per "
                    f"proxy and for the TLS terminator, {ROUNDS} round(s), medians) at HEAD {head}; {cpu}, "
                    f"{os.cpu_count()} CPUs, load {' '.join(load)} at the end. Every process shares the same CPUs "
                    f"(terminator, anvil, proxy, wrk)."
                    f"{' ' + note if note else ''}\n\n{table}\n")


if __name__ == "__main__":
    main()
