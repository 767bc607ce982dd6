"""Helpers shared by the gateway integration tests (test_gateway_*.py)."""
from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import threading
import time

import pytest
import requests

from harness import ANVIL_BIN, NODEOPS_BIN, REPO, wait_until

CAST_BIN = os.environ.get("CAST_BIN", str(REPO / ".tools" / "bin" / "cast"))
# anvil's first dev account (public test key) and the second account, as a recipient.
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER_ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

DENIED_BY_DEFAULT = ["admin_peers", "debug_traceTransaction", "personal_listAccounts", "miner_start",
                     "engine_getPayloadV1"]


def require_binaries():
    """Module-level skip unless the binaries exist; NODEOPS_REQUIRE_BIN=1 (ctest) turns it into a failure."""
    missing = [str(p) for p in (NODEOPS_BIN, ANVIL_BIN) if not os.path.exists(p)]
    if not missing:
        return pytest.mark.usefixtures()
    if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
        raise RuntimeError(f"missing binaries: {missing}")
    return pytest.mark.skip(reason=f"missing {missing}")


def body(method: str, params=None, id=1) -> dict:
    b = {"jsonrpc": "2.0", "method": method}
    if id is not ...:
        b["id"] = id
    if params is not None:
        b["params"] = params
    return b


def post(url: str, payload, timeout: float = 10.0, session=None) -> requests.Response:
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return (session or requests).post(url, data=data, headers={"Content-Type": "application/json"}, timeout=timeout)


class CallLoop:
    """Clients calling the gateway without pause (or every `pause` seconds) on `threads` threads,
    each on its own keep-alive session, until stopped; counts answers with a `result` in `ok` and
    every other outcome in `failed`. A context manager, or start() and stop()."""

    def __init__(self, url: str, payload=None, threads: int = 1, pause: float = 0.0):
        self.url, self.pause = url, pause
        self.payload = payload if payload is not None else body("eth_blockNumber")
        self.ok = 0
        self.failed: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with requests.Session() as s:
            while not self._stop.is_set():
                try:
                    r = post(self.url, self.payload, session=s, timeout=10)
                    answered = r.status_code == 200 and "result" in r.json()
                    problem = "" if answered else f"HTTP {r.status_code}: {r.text[:200]}"
                except Exception as e:  # noqa: BLE001 - every failure is reported
                    answered, problem = False, repr(e)
                with self._lock:
                    if answered:
                        self.ok += 1
                    else:
                        self.failed.append(problem)
                if self.pause:
                    time.sleep(self.pause)

    def start(self) -> "CallLoop":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def __enter__(self) -> "CallLoop":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def raw_member(text: str, key: str) -> str:
    """The raw JSON bytes of a top-level member of one JSON object (no re-encoding)."""
    decoder = json.JSONDecoder()
    i = text.index("{") + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        name, i = decoder.raw_decode(text, i)
        while text[i] in " \t\r\n:":
            i += 1
        start = i
        _, i = decoder.raw_decode(text, i)
        if name == key:
            return text[start:i]
        if text[i:].lstrip().startswith("}"):
            raise KeyError(key)


def deploy_answer_contract(anvil) -> str:
    """Deploys a contract whose code returns 42 as one 32-byte word; returns its address."""
    # runtime: PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN; init code copies it out with one MSTORE.
    init = "0x69602a60005260206000f3600052600a6016f3"
    tx = anvil.rpc("eth_sendTransaction", [{"from": DEV_ADDR, "data": init}])["result"]
    # anvil answers eth_sendTransaction before its automine has stored the receipt.
    receipt = wait_until("contract receipt", lambda: anvil.rpc("eth_getTransactionReceipt", [tx])["result"],
                         procs=[anvil])
    return receipt["contractAddress"]


def signed_transfer(anvil_url: str, value: int = 1) -> str:
    """A signed raw transfer from the first dev account, nonce and gas from `anvil_url`."""
    out = subprocess.run([CAST_BIN, "mktx", "--private-key", DEV_KEY, "--rpc-url", anvil_url, OTHER_ADDR,
                          "--value", str(value)], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def keccak_hex(raw_hex: str) -> str:
    out = subprocess.run([CAST_BIN, "keccak", raw_hex], capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


def raw_http(port: int, data: bytes, read_timeout: float = 10.0, close_write: bool = False,
             trickle: float | None = None) -> tuple[bytes, float]:
    """Sends bytes on a fresh connection and reads until the server closes it (or read_timeout).
    trickle: seconds between bytes. Returns (everything read, seconds until the read ended)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    started = time.monotonic()
    try:
        if trickle:
            for b in data:
                # Stop sending once the server answered: writing into a closed connection makes the
                # peer reset it, and a reset can discard the answer before we read it.
                if select.select([s], [], [], 0)[0]:
                    break
                try:
                    s.sendall(bytes([b]))
                except OSError:
                    break
                time.sleep(trickle)
        else:
            s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks), time.monotonic() - started
    finally:
        s.close()


def status_code_of(raw: bytes) -> int | None:
    if not raw.startswith(b"HTTP/1."):
        return None
    return int(raw.split(b" ", 2)[1])


def json_body_of(raw: bytes) -> dict:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def served_texts(gw) -> dict[str, str]:
    """What a running gateway shows anyone who can reach its admin port: /status, the status page
    and /metrics (add its log once it has stopped)."""
    return {"/status": requests.get(gw.admin_url("/status"), timeout=5).text,
            "status page": requests.get(gw.admin_url("/"), timeout=5).text,
            "/metrics": gw.metrics()}


def assert_never_shown(texts: dict[str, str], secrets) -> None:
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{secret} appears in the gateway's {where}"


def assert_certificates_refused(gw) -> None:
    """The upstreams `wronghost`, `expired` and `selfsigned` (pki.provider_certificates) of chain
    `eth` are out of rotation, each for its certificate's own reason."""
    reasons = {name: gw.upstream("eth", name) for name in ("wronghost", "expired", "selfsigned")}
    for name, u in reasons.items():
        assert not u["healthy"], (name, u)
        assert "tls" in u["reason"] and "certificate verify failed" in u["reason"], (name, u["reason"])
    assert "hostname mismatch" in reasons["wronghost"]["reason"].lower(), reasons["wronghost"]["reason"]
    assert "expired" in reasons["expired"]["reason"], reasons["expired"]["reason"]
    assert re.search("self.signed", reasons["selfsigned"]["reason"]), reasons["selfsigned"]["reason"]

