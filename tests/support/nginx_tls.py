"""A real nginx terminating TLS in front of a node, with certificates from tests/support/pki.py.

Shared by the tests of https and wss upstreams (test_gateway_providers.py, test_ws_upstreams.py).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import socket
import tempfile

from harness import Process, free_port, wait_until

NGINX = os.environ.get("NGINX", shutil.which("nginx") or "/usr/sbin/nginx")


class Nginx(Process):
    """One nginx (one worker) with a TLS server per entry of `servers`: name -> (cert name, location
    block). Its access log has `$server_port $connection $connection_requests $request_uri` per request."""

    def __init__(self, pki: pathlib.Path, anvil_port: int, servers: dict[str, tuple[str, str]]):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="nodeops-nginx-"))
        self.ports = {name: free_port() for name in servers}
        blocks = []
        for name, (cert, location) in servers.items():
            blocks.append(f"""
  server {{
    listen 127.0.0.1:{self.ports[name]} ssl;
    ssl_certificate {pki}/{cert}.crt;
    ssl_certificate_key {pki}/{cert}.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 100000;
    keepalive_timeout 75s;
{location}
  }}""")
        conf = f"""
worker_processes 1;
daemon off;
master_process on;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  log_format conn '$server_port $connection $connection_requests $request_uri $status';
  access_log {self.dir}/access.log conn;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  upstream anvil {{ server 127.0.0.1:{anvil_port}; keepalive 8; }}
{''.join(blocks)}
}}
"""
        (self.dir / "nginx.conf").write_text(conf)
        super().__init__("nginx", [NGINX, "-p", str(self.dir), "-e", str(self.dir / "error.log"),
                                   "-c", str(self.dir / "nginx.conf")])
        for name, port in self.ports.items():
            wait_until(f"nginx {name} on {port}", lambda p=port: _accepts(p), procs=[self])

    def access(self, server: str) -> list[tuple[int, int, str, int]]:
        """(connection, connection_requests, uri, status) of the requests `server` answered."""
        path = self.dir / "access.log"
        out = []
        for line in (path.read_text().splitlines() if path.exists() else []):
            port, conn, n, uri, status = line.split(" ")
            if int(port) == self.ports[server]:
                out.append((int(conn), int(n), uri, int(status)))
        return out

    def stop(self, timeout: float = 10.0) -> int:
        rc = super().stop(timeout)
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
