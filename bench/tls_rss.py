#!/usr/bin/env python3
"""RSS per idle keep-alive client connection, plain HTTP and client-facing TLS (docs/gateway.md, "Serve TLS
without a load balancer"): 1000 connections that made one call each.

    NODEOPS_BIN=build/release/nodeops PATH=.tools/bin:$PATH python3 bench/tls_rss.py
"""
import os, pathlib, resource, shutil, socket, ssl, subprocess, sys, tempfile, time

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))  # 1050 sockets
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests/support"), str(ROOT / "tests/integration")]
from harness import Anvil, Nodeops, gateway_config
d = pathlib.Path(tempfile.mkdtemp())
subprocess.run(["openssl","req","-x509","-newkey","rsa:2048","-nodes","-days","1","-subj","/CN=localhost","-keyout",d/"k","-out",d/"c"],check=True,capture_output=True)
a = Anvil(chain_id=1)
def rss(pid): return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
for tls in (False, True):
    extra = {"tls": f"{{ cert_file: {d/'c'}, key_file: {d/'k'} }}"} if tls else {}
    gw = Nodeops.gateway(gateway_config({"eth": (1, [("a", a.url)])}, threads=1, **extra))
    port = int(gw.listen.rsplit(":",1)[1])
    ctx = ssl.create_default_context(); ctx.check_hostname=False; ctx.verify_mode=ssl.CERT_NONE
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}'
    req = b"POST /eth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    def one():
        s = socket.create_connection(("127.0.0.1", port))
        if tls: s = ctx.wrap_socket(s, server_hostname="localhost")
        s.sendall(req); s.recv(4096); return s
    warm = [one() for _ in range(50)]
    time.sleep(0.5); r0 = rss(gw.proc.pid)
    socks = [one() for _ in range(1000)]
    time.sleep(0.5); r1 = rss(gw.proc.pid)
    print(f"tls={tls}: {(r1-r0)/1000:.1f} KiB RSS per idle keep-alive connection (1000 connections)")
    for s in socks + warm: s.close()
    gw.stop()
a.stop()
shutil.rmtree(d, ignore_errors=True)
