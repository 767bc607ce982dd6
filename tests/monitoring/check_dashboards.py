#!/usr/bin/env python3
"""Structural check of monitoring/dashboards/*.json (no Grafana runs here).

- valid JSON with uid, title and the "nodeops" tag; uids unique across dashboards;
- datasources are variables: a `datasource` variable (type datasource, Prometheus) and, for
  Loki panels, a `loki` variable; every panel and target uses ${datasource} or ${loki};
- panel ids unique within a dashboard, grid positions inside the 24-column grid;
- no hard-coded instance, pod, target, upstream or node in a query (only $variables);
- every PromQL query (panels, variable queries) parses: all of them, Grafana variables
  replaced by concrete values, go into one temporary rule file checked by `promtool check
  rules` (promtool 2.42 has no standalone expression parser);
- every LogQL query starts with a stream selector on labels Alloy sets
  (monitoring/alloy/config.alloy), has balanced brackets, and is documented in
  docs/monitoring.md.
Metric names are checked by check_rules.py (contract) and test_metrics_exist.py (binaries).

Exit status 1 on any failure; prints "check_dashboards: N dashboards, Q queries, F failures".
"""

import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from promql_names import (  # noqa: E402
    REPO, dashboard_files, dashboard_queries, grafana_to_promql, iter_panels, variable_query_to_promql,
)

LOKI_LABELS = {"namespace", "pod", "container", "app", "component", "instance", "node", "job",
               "chain", "level", "stream", "service_name"}
failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL {msg}")


def balanced(s: str) -> bool:
    s = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', s)
    stack, pairs = [], {")": "(", "]": "[", "}": "{"}
    for ch in s:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack


def check_structure(path: pathlib.Path, dash: dict, uids: dict) -> None:
    name = path.name
    for key in ("uid", "title", "panels", "templating"):
        if key not in dash:
            fail(f"{name}: no {key}")
    uid = dash.get("uid")
    if uid in uids:
        fail(f"{name}: uid {uid} also used by {uids[uid]}")
    uids[uid] = name
    if "nodeops" not in dash.get("tags", []):
        fail(f"{name}: no 'nodeops' tag")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail(f"{name}: no datasource variable 'datasource' of type datasource/prometheus")
    ids = set()
    uses_loki = False
    for p in iter_panels(dash.get("panels", [])):
        pid = p.get("id")
        where = f"{name}: panel {pid} ({p.get('title')})"
        if pid in ids:
            fail(f"{where}: duplicate panel id")
        ids.add(pid)
        g = p.get("gridPos", {})
        if not g or g.get("x", 0) + g.get("w", 0) > 24:
            fail(f"{where}: gridPos missing or wider than 24 columns")
        if p.get("type") == "row":
            continue
        for obj in [p, *p.get("targets", [])]:
            uid_ = (obj.get("datasource") or {}).get("uid")
            if uid_ not in ("${datasource}", "${loki}"):
                fail(f"{where}: datasource uid {uid_!r} is not ${{datasource}} or ${{loki}}")
            if uid_ == "${loki}":
                uses_loki = True
        if not p.get("targets"):
            fail(f"{where}: no queries")
    if uses_loki:
        lv = variables.get("loki")
        if not lv or lv.get("type") != "datasource" or lv.get("query") != "loki":
            fail(f"{name}: Loki panels but no datasource variable 'loki' of type datasource/loki")
    for v in variables.values():
        if v.get("type") == "query":
            uid_ = (v.get("datasource") or {}).get("uid")
            if uid_ not in ("${datasource}", "${loki}"):
                fail(f"{name}: variable {v['name']} has a hard-coded datasource {uid_!r}")


HARD_CODED = re.compile(r'\b(instance|pod|target|upstream|node)\s*(=|=~|!=|!~)\s*"(?!\$)([^"]*)"')


def main() -> int:
    uids: dict = {}
    prom: list[tuple[str, str]] = []
    loki: list[tuple[str, str]] = []
    files = dashboard_files()
    if not files:
        fail("no dashboards in monitoring/dashboards")
    for path in files:
        try:
            dash = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            fail(f"{path.name}: invalid JSON: {e}")
            continue
        check_structure(path, dash, uids)
        for q in dash_queries(path):
            where = f'{q["dashboard"]}: {q["panel"]}'
            for m in HARD_CODED.finditer(q["expr"]):
                if m.group(3) not in ("", ".*", ".+"):
                    fail(f"{where}: hard-coded {m.group(1)}={m.group(3)!r}; use a variable")
            if q["kind"] == "loki":
                loki.append((where, q["expr"]))
            elif q["kind"] == "variable":
                expr = variable_query_to_promql(q["expr"])
                if expr:
                    prom.append((where, expr))
            else:
                prom.append((where, q["expr"]))

    # PromQL: one rule file, one recording rule per query.
    rules = [{"record": f"dashboard_query_{i}", "expr": grafana_to_promql(e)} for i, (_, e) in enumerate(prom)]
    with tempfile.TemporaryDirectory() as tmp:
        f = pathlib.Path(tmp) / "dashboards.rules.yml"
        f.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
        r = subprocess.run(["promtool", "check", "rules", str(f)], capture_output=True, text=True)
        if r.returncode != 0:
            # Find the culprits one by one, so the message names the panel.
            for (where, expr), rule in zip(prom, rules):
                f.write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [rule]}]}))
                r1 = subprocess.run(["promtool", "check", "rules", str(f)], capture_output=True, text=True)
                if r1.returncode != 0:
                    fail(f"{where}: PromQL does not parse: {expr}\n{r1.stdout}{r1.stderr}")

    # LogQL: selector labels and documentation.
    doc = (REPO / "docs" / "monitoring.md")
    doc_text = doc.read_text() if doc.exists() else ""
    for where, expr in loki:
        m = re.match(r"^\s*(?:[a-z_]+\s*(?:by\s*\([^)]*\)\s*)?\(\s*)*(?:count_over_time\s*\(\s*)?(\{[^}]*\})", expr)
        if not m:
            fail(f"{where}: LogQL has no stream selector: {expr}")
        else:
            for label in re.findall(r'([a-zA-Z_]\w*)\s*(?:=|=~|!=|!~)\s*"', m.group(1)):
                if label not in LOKI_LABELS:
                    fail(f"{where}: stream label {label!r} is not set by the Alloy pipeline")
        if not balanced(expr):
            fail(f"{where}: unbalanced brackets: {expr}")
        if expr not in doc_text:
            fail(f"{where}: LogQL query not documented in docs/monitoring.md: {expr}")

    print(f"check_dashboards: {len(files)} dashboards, {len(prom)} PromQL and {len(loki)} LogQL "
          f"queries, {len(failures)} failures")
    return 1 if failures else 0


def dash_queries(path):
    return dashboard_queries(path)


if __name__ == "__main__":
    sys.exit(main())
