"""A throwaway certificate authority made with the real `openssl` CLI, for TLS tests.

    ca = TestCA(tmp_dir)                 # ca.crt / ca.key
    ca.issue("good", "DNS:localhost")    # good.crt / good.key, signed by the CA, valid 2 days
    ca.issue("soon", "DNS:localhost", days=1)
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

_CA_CONFIG = """
[ ca ]
default_ca = test_ca
[ test_ca ]
database = index.txt
new_certs_dir = newcerts
serial = serial
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
[ leaf ]
subjectAltName = ${ENV::SAN}
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
"""


def openssl(cwd: pathlib.Path, *args: str, env: dict | None = None, input: str | None = None) -> str:
    r = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, input=input,
                       env={**os.environ, **(env or {})})
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"
    return r.stdout


class TestCA:
    __test__ = False  # not a pytest class

    def __init__(self, directory: pathlib.Path):
        self.dir = pathlib.Path(directory)
        (self.dir / "newcerts").mkdir(parents=True, exist_ok=True)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "ca.cnf").write_text(_CA_CONFIG)
        openssl(self.dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-days", "30", "-subj", "/CN=NodeOps Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.cert = self.dir / "ca.crt"

    def issue(self, name: str, san: str, days: int = 2, dates: tuple[str, ...] = ()) -> tuple[pathlib.Path, pathlib.Path]:
        """Signs a fresh key for `san` (e.g. "DNS:localhost"); returns (certificate, key) paths.
        `dates` (openssl ca's -startdate/-enddate) replaces `days`, e.g. for an expired one."""
        openssl(self.dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", "/CN=" + san.split(":", 1)[1])
        openssl(self.dir, "ca", "-batch", "-config", "ca.cnf", "-extensions", "leaf", "-in", f"{name}.csr",
                "-out", f"{name}.crt", *(dates or ("-days", str(days))), env={"SAN": san})
        return self.dir / f"{name}.crt", self.dir / f"{name}.key"

    def serial(self, cert: pathlib.Path) -> str:
        return openssl(self.dir, "x509", "-noout", "-serial", "-in", str(cert)).strip().split("=", 1)[1]

    def not_after(self, cert: pathlib.Path) -> int:
        """notAfter as Unix seconds."""
        import ssl
        text = openssl(self.dir, "x509", "-noout", "-enddate", "-in", str(cert)).strip().split("=", 1)[1]
        return int(ssl.cert_time_to_seconds(text))


def provider_certificates(directory: pathlib.Path) -> pathlib.Path:
    """A TestCA in `directory` (ca.crt) and the key/certificate pairs a provider test needs: good
    (localhost), wronghost (other.example), expired (2020) and selfsigned (no CA). Returns the folder."""
    ca = TestCA(directory)
    ca.issue("good", "DNS:localhost")
    ca.issue("wronghost", "DNS:other.example")
    ca.issue("expired", "DNS:localhost", dates=("-startdate", "20200101000000Z", "-enddate", "20200102000000Z"))
    openssl(ca.dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "selfsigned.key", "-out",
            "selfsigned.crt", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost")
    return ca.dir

