#!/usr/bin/env python3
"""The nodeops-monitoring chart carries monitoring/ and nothing else: no second copy to drift.

- deploy/helm/nodeops-monitoring/files/{rules,dashboards,alertmanager,alloy} are symlinks that
  resolve to monitoring/<same name>;
- `helm template` (helm v4 follows the symlinks) renders one PrometheusRule per rules file
  whose spec equals the file, one dashboard ConfigMap per JSON file with the same bytes, the
  Alertmanager Secret with alertmanager.yml and the templates, and the Alloy ConfigMap with
  config.alloy; rules.kubernetes=false leaves kubernetes.rules.yml out; publicEndpoint renders a
  Probe (job nodeops-public-endpoint, a module of blackbox.yml) and the blackbox exporter's Secret
  with monitoring/blackbox/blackbox.yml.
"""

import base64
import os
import pathlib
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "nodeops-monitoring"
MON = REPO / "monitoring"
HELM = os.environ.get("HELM") or str(REPO / ".tools" / "bin" / "helm")
failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL {msg}")


def render(*args):
    r = subprocess.run([HELM, "template", "nodeops-monitoring", str(CHART), "-n", "monitoring", *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"helm template {' '.join(args)}: {r.stderr.strip()}")
        return []
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def main():
    for name in ("rules", "dashboards", "alertmanager", "alloy", "blackbox"):
        link = CHART / "files" / name
        if not link.is_symlink():
            fail(f"{link.relative_to(REPO)} is not a symlink into monitoring/")
        elif link.resolve() != (MON / name).resolve():
            fail(f"{link.relative_to(REPO)} points to {os.readlink(link)}, not monitoring/{name}")
    if not os.access(HELM, os.X_OK):
        fail(f"helm not found at {HELM}; run scripts/bootstrap.sh")
        return 1

    objs = render()
    rules = {o["metadata"]["annotations"]["nodeops.io/source"]: o for o in objs if o["kind"] == "PrometheusRule"}
    for f in sorted((MON / "rules").glob("*.rules.yml")):
        src = f"monitoring/rules/{f.name}"
        if src not in rules:
            fail(f"no PrometheusRule for {src}")
        elif rules[src]["spec"] != yaml.safe_load(f.read_text()):
            fail(f"PrometheusRule for {src} differs from the file")
    cms = {o["metadata"]["annotations"]["nodeops.io/source"]: o for o in objs if o["kind"] == "ConfigMap"}
    for f in sorted((MON / "dashboards").glob("*.json")):
        src = f"monitoring/dashboards/{f.name}"
        data = cms.get(src, {}).get("data", {}).get(f.name)
        if data is None:
            fail(f"no dashboard ConfigMap for {src}")
        elif data.rstrip("\n") != f.read_text().rstrip("\n"):
            fail(f"dashboard ConfigMap for {src} differs from the file")
    alloy = cms.get("monitoring/alloy/config.alloy", {}).get("data", {}).get("config.alloy")
    if alloy is None or alloy.rstrip("\n") != (MON / "alloy" / "config.alloy").read_text().rstrip("\n"):
        fail("Alloy ConfigMap missing or differs from monitoring/alloy/config.alloy")
    secrets = [o for o in objs if o["kind"] == "Secret"]
    am = secrets[0]["data"] if secrets else {}
    want = {"alertmanager.yaml": MON / "alertmanager" / "alertmanager.yml"}
    want |= {p.name: p for p in (MON / "alertmanager").glob("*.tmpl")}
    for key, path in want.items():
        if key not in am or base64.b64decode(am[key]).decode() != path.read_text():
            fail(f"Alertmanager Secret key {key} missing or differs from {path.relative_to(REPO)}")
    if "local.yml" in " ".join(am):
        fail("Alertmanager Secret carries local.yml")

    probed = render("--set", "publicEndpoint.enabled=true", "--set", "publicEndpoint.targets[0].name=solana",
                    "--set", "publicEndpoint.targets[0].url=https://rpc.example.com/solana",
                    "--set", "publicEndpoint.targets[0].module=nodeops_solana")
    probes = [o for o in probed if o["kind"] == "Probe"]
    if len(probes) != 1 or probes[0]["spec"]["jobName"] != "nodeops-public-endpoint":
        fail("publicEndpoint renders no Probe with jobName nodeops-public-endpoint (NodeOpsPublicEndpointDown selects it)")
    bb = [o for o in probed if o["kind"] == "Secret" and "blackbox.yaml" in o.get("data", {})]
    blackbox = MON / "blackbox" / "blackbox.yml"
    if not bb or base64.b64decode(bb[0]["data"]["blackbox.yaml"]).decode() != blackbox.read_text():
        fail("blackbox exporter Secret missing or differs from monitoring/blackbox/blackbox.yml")
    elif probes and probes[0]["spec"]["module"] not in yaml.safe_load(blackbox.read_text())["modules"]:
        fail(f"Probe module {probes[0]['spec']['module']} is not in monitoring/blackbox/blackbox.yml")

    no_k8s = render("--set", "rules.kubernetes=false")
    if any(o["kind"] == "PrometheusRule" and "kubernetes" in o["metadata"]["name"] for o in no_k8s):
        fail("rules.kubernetes=false still renders kubernetes.rules.yml")
    for env in ("dev", "staging", "prod"):
        if not render("-f", str(CHART / f"values-{env}.yaml")):
            fail(f"values-{env}.yaml renders nothing")

    print(f"check_chart: {len(rules)} PrometheusRules, {len(cms)} ConfigMaps, {len(secrets)} Secret, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
