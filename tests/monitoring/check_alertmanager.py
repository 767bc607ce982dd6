#!/usr/bin/env python3
"""Alertmanager configuration checks beyond amtool check-config and routes test.

- local.yml (local stack) and alertmanager.yml (production) have the same route tree and
  inhibit rules and the same receiver names;
- local.yml receivers send nothing (no *_configs), so the local stack needs no external service;
- alertmanager.yml holds no credential: only *_file fields (routing_key_file, api_url_file ...);
- inhibition works in the real binary: prometheus-alertmanager runs with local.yml on a free
  loopback port, gets a critical and two warnings through its API, and must suppress exactly the
  warning of the same target. Skipped (reported) when prometheus-alertmanager is not installed.
"""

import json
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
AM = REPO / "monitoring" / "alertmanager"
SECRET_KEYS = {"routing_key", "service_key", "api_url", "url", "api_key", "auth_password",
               "bot_token", "token", "password", "webhook_url"}
failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL {msg}")


def walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield f"{path}.{k}", k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk(v, f"{path}[{i}]")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


def live_inhibition():
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        print("skip live inhibition test: prometheus-alertmanager not installed")
        return
    port, cport = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([binary, f"--config.file={AM / 'local.yml'}", f"--storage.path={tmp}",
                                 f"--web.listen-address=127.0.0.1:{port}",
                                 f"--cluster.listen-address=127.0.0.1:{cport}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                try:
                    api(port, "GET", "status")
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                fail("prometheus-alertmanager did not start with local.yml")
                return
            common = {"chain": "ethereum", "instance": "geth-0:9200"}
            alerts = [
                {"labels": {"alertname": "NodeOpsNodeDown", "severity": "critical", "target": "geth", **common}},
                {"labels": {"alertname": "NodeOpsNodeLagging", "severity": "warning", "target": "geth", **common}},
                {"labels": {"alertname": "NodeOpsNodeLagging", "severity": "warning", "target": "bor",
                            "chain": "polygon", "instance": "bor-0:9200"}},
            ]
            api(port, "POST", "alerts", alerts)
            state = {}
            for _ in range(50):
                got = api(port, "GET", "alerts")
                state = {(a["labels"]["alertname"], a["labels"]["target"]): a["status"]["state"] for a in got}
                if len(state) == 3 and state.get(("NodeOpsNodeLagging", "geth")) == "suppressed":
                    break
                time.sleep(0.1)
            want = {("NodeOpsNodeDown", "geth"): "active", ("NodeOpsNodeLagging", "geth"): "suppressed",
                    ("NodeOpsNodeLagging", "bor"): "active"}
            if state != want:
                fail(f"inhibition in prometheus-alertmanager: got {state}, want {want}")
            else:
                print("ok   live inhibition: critical NodeOpsNodeDown suppresses the warning of the same target only")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main():
    prod = yaml.safe_load((AM / "alertmanager.yml").read_text())
    local = yaml.safe_load((AM / "local.yml").read_text())
    for key in ("route", "inhibit_rules"):
        if prod.get(key) != local.get(key):
            fail(f"{key} differs between alertmanager.yml and local.yml")
    if [r["name"] for r in prod["receivers"]] != [r["name"] for r in local["receivers"]]:
        fail("receiver names differ between alertmanager.yml and local.yml")
    for r in local["receivers"]:
        extra = [k for k in r if k != "name"]
        if extra:
            fail(f"local.yml receiver {r['name']} sends somewhere ({extra}); the local stack must not")
    for path, key, value in walk(prod):
        if key in SECRET_KEYS and value:
            fail(f"alertmanager.yml{path} holds a literal; use {key}_file with a mounted Secret")
    live_inhibition()
    print(f"check_alertmanager: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
