#!/usr/bin/env python3
"""Alertmanager configuration checks beyond amtool check-config and routes test.

- local.yml (local stack) and alertmanager.yml (production) have the same route tree and
  inhibit rules and the same receiver names;
- local.yml receivers send nothing (no *_configs), so the local stack needs no external service;
- alertmanager.yml holds no credential: only *_file fields (routing_key_file, api_url_file ...);
- inhibition works in the real binary: for each case of alertmanager/tests/inhibit.yml, and for
  each inhibit rule with label-less alerts on both sides, prometheus-alertmanager runs with
  local.yml on a free loopback port, gets the alerts through its API and must suppress exactly
  the expected ones. Every inhibit rule needs a case where it suppresses something.
"""

import json
import re
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


def label_less_case(i, rule):
    """Rule i's source and target alerts with only the labels an equality matcher asks for
    (alertname, severity): every label the rule compares is missing on both sides, which must
    not count as equal."""
    def minimal(matchers, fallback_name):
        labels = {"alertname": fallback_name}
        for m in matchers:
            name, op, value = re.match(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"(.*)"\s*$', m).groups()
            if op == "=" and value:
                labels[name] = value
            elif op == "=~" and re.fullmatch(r"[\w|]+", value):
                labels[name] = value.split("|")[0]
        return labels
    source = minimal(rule.get("source_matchers", []), "LabelLessSource")
    target = minimal(rule.get("target_matchers", []), "LabelLessTarget")
    if target == source:
        target = {**target, "alertname": target["alertname"] + "Other"}
    return {"name": f"inhibit rule {i}: label-less source and target", "alerts": [source, target],
            "suppressed": []}


def run_case(binary, case):
    """Starts Alertmanager with local.yml, posts the case's alerts, returns which are suppressed."""
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
                raise RuntimeError("prometheus-alertmanager did not start with local.yml")
            alerts = [{"labels": {**a, "case_index": str(n)}} for n, a in enumerate(case["alerts"])]
            api(port, "POST", "alerts", alerts)
            want = sorted(case["suppressed"])
            got = None
            # Inhibition is evaluated when alerts arrive; poll until every alert is listed and the
            # expected state is reached (bounded: 5 s), then report what Alertmanager says.
            for _ in range(50):
                listed = api(port, "GET", "alerts")
                got = sorted(int(a["labels"]["case_index"]) for a in listed
                             if a["status"]["state"] == "suppressed")
                if len(listed) == len(alerts) and got == want:
                    break
                time.sleep(0.1)
            return got
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def live_inhibition(rules):
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        fail("prometheus-alertmanager not installed: the inhibition cases cannot run")
        return
    cases = yaml.safe_load((AM / "tests" / "inhibit.yml").read_text())
    proven = {c["rule"] for c in cases if "rule" in c and c["suppressed"]}
    for i in range(len(rules)):
        if i not in proven:
            fail(f"inhibit rule {i} has no case in tests/inhibit.yml that it suppresses")
    cases += [label_less_case(i, r) for i, r in enumerate(rules)]
    for case in cases:
        got = run_case(binary, case)
        if got != sorted(case["suppressed"]):
            names = lambda idx: [case["alerts"][n]["alertname"] for n in idx]  # noqa: E731
            fail(f"inhibition case '{case['name']}': suppressed {names(got)}, want {names(case['suppressed'])}")
        else:
            print(f"ok   inhibition: {case['name']}")


def heartbeat_url_ok(prod, path):
    """A webhook URL may be a literal when its credential comes from a file (Alertmanager 0.25
    has no url_file) and it carries no userinfo or query."""
    m = re.match(r"\.receivers\[(\d+)\]\.webhook_configs\[(\d+)\]\.url$", path)
    if not m:
        return False
    hook = prod["receivers"][int(m.group(1))]["webhook_configs"][int(m.group(2))]
    auth = hook.get("http_config", {}).get("authorization", {})
    return bool(auth.get("credentials_file")) and "@" not in hook["url"] and "?" not in hook["url"]


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
        if key == "url" and ".webhook_configs[" in path and value and heartbeat_url_ok(prod, path):
            continue
        if key in SECRET_KEYS and value:
            fail(f"alertmanager.yml{path} holds a literal; use {key}_file with a mounted Secret")
    live_inhibition(local.get("inhibit_rules", []))
    print(f"check_alertmanager: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
