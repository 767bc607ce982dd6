#!/usr/bin/env python3
"""Lint of monitoring/rules beyond what promtool checks.

- every alert: severity critical|warning|info, summary, description naming a label and $value,
  runbook_url ending in docs/runbooks/<AlertName>.md, and that file exists;
- alert names are unique and every runbook belongs to an alert;
- every alert has a promtool test where it fires and one where it stays silent;
- no critical alert reads the exporter's per-node series (one node warns; symptoms page);
- no alert duplicates a kube-prometheus-stack default (promql_names.KUBE_PROMETHEUS_STACK_COVERS);
- Kubernetes-only metrics (kube-state-metrics, cAdvisor, node-exporter) appear only in
  kubernetes.rules.yml, because the local stack loads every other file;
- every environment's Prometheus retention holds the 30-day SLO window;
- every metric a rule or dashboard uses is promised by docs/interfaces.md, is a recording rule,
  or is an allowed external metric (promql_names.ALLOWED_EXTERNAL), or is a series the gateway
  rewrite promises (promql_names.PROMISED_GATEWAY). test_metrics_exist.py
  checks the same against the running binaries.

Prints one line per failed check and "check_rules: N failures"; exit status 1 on failure.
"""

import pathlib
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from promql_names import (  # noqa: E402
    KUBE_PROMETHEUS_STACK_COVERS, PROMISED_GATEWAY, REPO, RULES_DIR, contract_names, is_external,
    is_kubernetes_only, load_rules, metric_names, recording_rule_names, used_metrics,
)

RUNBOOKS = REPO / "docs" / "runbooks"
PER_NODE_PREFIXES = ("eth_", "solana_node_", "nodeops_node_", "nodeops_heimdall_", "nodeops_solana_",
                     "nodeops_exporter_")
failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL {msg}")


def main() -> int:
    rules = load_rules()
    alerts = [r for r in rules if "alert" in r]
    names = [a["alert"] for a in alerts]
    for n in {n for n in names if names.count(n) > 1}:
        fail(f"alert {n} defined more than once")

    for a in alerts:
        name, ann, labels = a["alert"], a.get("annotations", {}), a.get("labels", {})
        where = f'{a["file"]}: {name}'
        if labels.get("severity") not in ("critical", "warning", "info"):
            fail(f"{where}: severity must be critical, warning or info, not {labels.get('severity')!r}")
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                fail(f"{where}: annotation {key} missing")
        desc = ann.get("description", "")
        if "$value" not in desc:
            fail(f"{where}: description does not show $value")
        if "$labels." not in desc and "absent(" not in a["expr"]:
            fail(f"{where}: description names no label (instance, chain, target ...)")
        url = ann.get("runbook_url", "")
        if not url.endswith(f"docs/runbooks/{name}.md"):
            fail(f"{where}: runbook_url must end in docs/runbooks/{name}.md, is {url}")
        rb = RUNBOOKS / f"{name}.md"
        if not rb.is_file():
            fail(f"{where}: runbook {rb.relative_to(REPO)} missing")
        else:
            text = rb.read_text()
            for heading in ("## Diagnose", "## Fix"):
                if heading not in text:
                    fail(f"{rb.relative_to(REPO)}: no '{heading}' section")
        # Pages are symptoms users feel (gateway, SLOs, the probe from outside); one node is a
        # cause the gateway routes around, so the exporter's per-node series never page.
        if labels.get("severity") == "critical":
            node = sorted(n for n in metric_names(a["expr"]) if n.startswith(PER_NODE_PREFIXES))
            if node:
                fail(f"{where}: critical on per-node metrics {node}; a single node warns, symptoms page")
        for n in sorted(metric_names(a["expr"]) & set(KUBE_PROMETHEUS_STACK_COVERS)):
            fail(f"{where}: duplicates kube-prometheus-stack's {KUBE_PROMETHEUS_STACK_COVERS[n]} ({n})")
        if a["file"] != "kubernetes.rules.yml":
            k8s = sorted(n for n in metric_names(a["expr"]) if is_kubernetes_only(n))
            if k8s:
                fail(f"{where}: uses Kubernetes-only metrics {k8s}; move it to kubernetes.rules.yml")

    for r in rules:
        if "record" in r and r["file"] != "kubernetes.rules.yml":
            k8s = sorted(n for n in metric_names(r["expr"]) if is_kubernetes_only(n))
            if k8s:
                fail(f'{r["file"]}: {r["record"]} uses Kubernetes-only metrics {k8s}')

    if RUNBOOKS.is_dir():
        for rb in sorted(RUNBOOKS.glob("*.md")):
            if rb.stem not in names and rb.name != "README.md":
                fail(f"{rb.relative_to(REPO)}: no alert of that name")

    # Fire and silent tests.
    fires, silent = set(), set()
    for tf in sorted((RULES_DIR / "tests").glob("*.test.yml")):
        doc = yaml.safe_load(tf.read_text())
        for t in doc.get("tests", []):
            for art in t.get("alert_rule_test", []) or []:
                (fires if art.get("exp_alerts") else silent).add(art["alertname"])
    for n in sorted(set(names)):
        if n not in fires:
            fail(f"alert {n}: no promtool test makes it fire")
        if n not in silent:
            fail(f"alert {n}: no promtool test keeps it silent")

    # Static metric contract.
    contract = contract_names()
    recorded = recording_rule_names()
    for metric, where in sorted(used_metrics().items()):
        if metric in contract or metric in recorded or is_external(metric) or metric in PROMISED_GATEWAY:
            continue
        fail(f"metric {metric} is not in docs/interfaces.md, a recording rule or the allowlist "
             f"(used by {', '.join(sorted(where))})")

    # The 30-day SLO figures (slo.rules.yml) need 30 days of data in every environment.
    kps = REPO / "deploy" / "helm" / "values"
    base = yaml.safe_load((kps / "kube-prometheus-stack.yaml").read_text())
    for env in ("dev", "staging", "prod"):
        over = yaml.safe_load((kps / f"kube-prometheus-stack-{env}.yaml").read_text()) or {}
        retention = (over.get("prometheus", {}).get("prometheusSpec", {}).get("retention")
                     or base["prometheus"]["prometheusSpec"]["retention"])
        days = {"d": 1, "w": 7, "y": 365}.get(retention[-1], 0) * int(retention[:-1])
        if days < 30:
            fail(f"kube-prometheus-stack-{env}: retention {retention} is shorter than the 30-day SLO window")

    print(f"check_rules: {len(alerts)} alerts, {len(rules) - len(alerts)} recording rules, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
