"""Client-facing TLS (`tls:` in the gateway config), against real parts.

- A throwaway CA and certificates made here with the `openssl` CLI (tests/support/pki.py), mounted
  the way Kubernetes mounts a Secret: `tls.crt` -> `..data/tls.crt`, `..data` -> a dated folder,
  renewed by swapping `..data` (what cert-manager and the kubelet do).
- `openssl s_client` checks the chain, the protocol floor (TLS 1.1 refused) and ALPN.
- Python's http.client sends several requests on one TLS connection (keep-alive).
- python3-websockets speaks JSON-RPC over wss://.
- A renewed certificate is served to new connections while an open one keeps working; a broken
  pair on disk is refused (the old certificate stays, the error counter rises); a broken pair at
  start is a config error naming file:line: key.

Run: NODEOPS_BIN=build/release/nodeops /usr/bin/python3 -m pytest tests/integration/test_gateway_tls.py
"""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile

import pytest

from gateway_util import require_binaries
from harness import NODEOPS_BIN, Anvil, Nodeops, free_port, gateway_config, metric_value, wait_until
from pki import OPENSSL, TestCA

pytestmark = require_binaries()
websockets = pytest.importorskip("websockets")  # Debian python3-websockets (scripts/bootstrap.sh)

EXPIRY = "nodeops_gateway_tls_certificate_expiry_timestamp_seconds"
RELOADS = "nodeops_gateway_tls_certificate_reloads_total"


@pytest.fixture(scope="module")
def ca():
    d = pathlib.Path(tempfile.mkdtemp(prefix="nodeops-edge-pki-"))
    yield TestCA(d)
    shutil.rmtree(d, ignore_errors=True)


class SecretMount:
    """A folder laid out like a mounted Kubernetes Secret of type kubernetes.io/tls."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.generation = 0
        root.mkdir(parents=True, exist_ok=True)
        (root / "tls.crt").symlink_to("..data/tls.crt")
        (root / "tls.key").symlink_to("..data/tls.key")

    def publish(self, cert: pathlib.Path, key: pathlib.Path) -> None:
        """Atomically swaps in a new pair, as the kubelet does (one rename of a symlink)."""
        self.generation += 1
        folder = self.root / f"..gen_{self.generation}"
        folder.mkdir()
        shutil.copy(cert, folder / "tls.crt")
        shutil.copy(key, folder / "tls.key")
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(folder.name)
        os.replace(tmp, self.root / "..data")

    @property
    def cert(self) -> pathlib.Path:
        return self.root / "tls.crt"

    @property
    def key(self) -> pathlib.Path:
        return self.root / "tls.key"


def client_context(ca: TestCA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    return ctx


def port_of(gw: Nodeops) -> int:
    return int(gw.listen.rsplit(":", 1)[1])


def s_client(ca: TestCA, port: int, *extra: str) -> subprocess.CompletedProcess:
    """One TLS connection with openssl s_client, sending an HTTP request and reading the answer."""
    req = ('POST /eth HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 47\r\n'
           'Connection: close\r\n\r\n{"jsonrpc":"2.0","method":"eth_chainId","id":1}')
    return subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                           "-verify_hostname", "localhost", "-CAfile", str(ca.cert), "-verify_return_error",
                           "-alpn", "h2,http/1.1", "-ign_eof", *extra],
                          input=req, capture_output=True, text=True, timeout=30)


def served_serial(port: int) -> str:
    """The serial number of the certificate a new connection gets (hex, as openssl prints it)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            der = tls.getpeercert(binary_form=True)
    out = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-noout", "-serial"], input=der, capture_output=True,
                         timeout=10)
    return out.stdout.decode().strip().split("=", 1)[1]


def tls_config(anvil: Anvil, mount: SecretMount) -> str:
    return gateway_config({"eth": (1, [("a", anvil.url)])},
                          tls=f"{{ cert_file: {mount.cert}, key_file: {mount.key}, reload_interval: 100ms }}")


def call(conn: http.client.HTTPSConnection, method: str = "eth_chainId") -> dict:
    conn.request("POST", "/eth", body=json.dumps({"jsonrpc": "2.0", "method": method, "id": 1}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200, r.status
    return json.loads(r.read())


@pytest.fixture
def anvil():
    a = Anvil(chain_id=1)
    yield a
    a.stop()


def test_https_and_wss_with_keep_alive_and_a_renewal_that_drops_nothing(ca, anvil, tmp_path):
    first_cert, first_key = ca.issue("first", "DNS:localhost", days=2)
    mount = SecretMount(tmp_path / "secret")
    mount.publish(first_cert, first_key)
    gw = Nodeops.gateway(tls_config(anvil, mount))
    try:
        port = port_of(gw)
        # openssl s_client: the chain verifies against our CA for "localhost", TLS 1.2+, ALPN http/1.1.
        out = s_client(ca, port)
        assert "Verify return code: 0 (ok)" in out.stdout, out.stdout + out.stderr
        assert re.search(r"Protocol *: TLSv1\.[23]", out.stdout), out.stdout
        assert "ALPN protocol: http/1.1" in out.stdout, out.stdout
        assert '"result":"0x1"' in out.stdout, out.stdout
        old = s_client(ca, port, "-tls1_1")
        assert old.returncode != 0 and '"result"' not in old.stdout, "TLS 1.1 must be refused"
        # Plain HTTP on the TLS port gets no answer.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"GET /eth HTTP/1.1\r\nHost: x\r\n\r\n")
            raw.settimeout(10)
            try:
                got = raw.recv(1024)
            except (ConnectionResetError, socket.timeout):
                got = b""
            assert not got.startswith(b"HTTP/1.1 200"), got

        metrics = gw.metrics()
        # The TLS 1.1 attempt and the plain HTTP request never completed a handshake.
        assert metric_value(metrics, "nodeops_gateway_tls_handshake_failures_total") >= 2
        assert metric_value(metrics, EXPIRY) == ca.not_after(first_cert)
        assert metric_value(metrics, RELOADS, result="ok") == 0
        assert metric_value(metrics, RELOADS, result="error") == 0

        # Keep-alive: several requests on one TLS connection.
        ctx = client_context(ca)
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        assert call(conn)["result"] == "0x1"
        sock = conn.sock
        for _ in range(5):
            assert call(conn, "eth_blockNumber")["result"].startswith("0x")
        assert conn.sock is sock, "the TLS connection was not kept alive"
        assert served_serial(port) == ca.serial(first_cert)

        # wss:// with a real WebSocket client.
        async def over_wss():
            async with websockets.connect(f"wss://localhost:{port}/eth", ssl=ctx, open_timeout=10) as ws:
                await ws.send(json.dumps({"jsonrpc": "2.0", "method": "eth_chainId", "id": 7}))
                return json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert asyncio.run(over_wss()) == {"jsonrpc": "2.0", "id": 7, "result": "0x1"}

        # Renewal: cert-manager swaps the Secret's files. New connections get the new certificate;
        # the open keep-alive connection goes on working.
        second_cert, second_key = ca.issue("second", "DNS:localhost", days=20)
        mount.publish(second_cert, second_key)
        wait_until("renewed certificate served", lambda: served_serial(port) == ca.serial(second_cert), procs=[gw])
        assert call(conn)["result"] == "0x1"
        assert conn.sock is sock, "the renewal dropped an open connection"
        metrics = gw.metrics()
        assert metric_value(metrics, EXPIRY) == ca.not_after(second_cert)
        assert metric_value(metrics, RELOADS, result="ok") == 1

        # A broken pair (this key does not belong to this certificate): refused, counted, logged;
        # the renewed certificate stays in use.
        third_cert, _ = ca.issue("third", "DNS:localhost", days=5)
        mount.publish(third_cert, first_key)
        wait_until("broken pair counted", lambda: metric_value(gw.metrics(), RELOADS, result="error") == 1,
                   procs=[gw])
        assert served_serial(port) == ca.serial(second_cert)
        assert metric_value(gw.metrics(), EXPIRY) == ca.not_after(second_cert)
        assert call(conn)["result"] == "0x1"
        conn.close()
        # Fixed on disk again: picked up.
        mount.publish(third_cert, ca.dir / "third.key")
        wait_until("fixed pair served", lambda: served_serial(port) == ca.serial(third_cert), procs=[gw])
        assert metric_value(gw.metrics(), RELOADS, result="ok") == 2
    finally:
        gw.stop()
    log = gw.log()
    assert "TLS certificate rejected; the previous one stays in use" in log
    assert "key values mismatch" in log
    assert "PRIVATE KEY" not in log


@pytest.mark.parametrize("case", ["garbage_cert", "mismatched_key", "missing_key_file", "only_cert"])
def test_a_broken_certificate_at_start_is_a_config_error(ca, tmp_path, case):
    cert, key = ca.issue(f"start-{case}", "DNS:localhost")
    other_cert, other_key = ca.issue(f"other-{case}", "DNS:localhost")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    tls = {
        "garbage_cert": (f"cert_file: {garbage}, key_file: {key}", "tls.cert_file", "cannot load certificate"),
        "mismatched_key": (f"cert_file: {cert}, key_file: {other_key}", "tls.key_file", "does not match"),
        "missing_key_file": (f"cert_file: {cert}, key_file: {tmp_path / 'nope.key'}", "tls.key_file",
                             "cannot read"),
        "only_cert": (f"cert_file: {cert}", "tls.key_file", "go together"),
    }[case]
    config = tmp_path / "gw.yaml"
    config.write_text(f"listen: 127.0.0.1:{free_port()}\nadmin_listen: 127.0.0.1:{free_port()}\n"
                      f"tls: {{ {tls[0]} }}\n"
                      "chains:\n  - name: eth\n    chain_id: 1\n    upstreams:\n"
                      "      - { name: a, url: \"http://127.0.0.1:1\" }\n")
    for args in (["check-config", str(config)], ["gateway", "--config", str(config)]):
        out = subprocess.run([str(NODEOPS_BIN), *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2, f"{args}: {out.returncode} {out.stderr}"
        assert re.search(rf"gw\.yaml:3: {re.escape(tls[1])}: .*{tls[2]}", out.stderr), out.stderr


def test_sigterm_drains_tls_connections(ca, anvil, tmp_path):
    """An idle keep-alive TLS connection and an open wss connection do not hold the drain: the
    gateway exits 0 well before limits.drain_timeout (20 s), closing both."""
    cert, key = ca.issue("drain", "DNS:localhost")
    mount = SecretMount(tmp_path / "secret")
    mount.publish(cert, key)
    gw = Nodeops.gateway(tls_config(anvil, mount))
    port = port_of(gw)
    ctx = client_context(ca)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    assert call(conn)["result"] == "0x1"

    async def drained_ws():
        async with websockets.connect(f"wss://localhost:{port}/eth", ssl=ctx, open_timeout=10) as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "eth_chainId", "id": 1}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["result"] == "0x1"
            gw.signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(ws.recv(), 15)
            except websockets.ConnectionClosed as e:
                return e.rcvd.code if e.rcvd else None
        return None

    try:
        assert asyncio.run(drained_ws()) == 1001  # going away
        assert gw.proc.wait(15) == 0
        assert "gateway stopped" in gw.log()
    finally:
        conn.close()
        gw.stop()
