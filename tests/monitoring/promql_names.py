"""Which metric names do the rules and dashboards of monitoring/ use?

Shared by the monitoring checks (check_rules.py, check_dashboards.py) and the metric-existence
test (test_metrics_exist.py). Standard library plus PyYAML only (Debian python3-yaml).

The extractor is deliberately a tokenizer, not a PromQL parser: promtool already proves each
expression parses; this only has to find the identifiers that are metric names. What is not a
metric name: string literals, everything inside {label matchers} (except __name__="..."),
[range] and [range:step] selectors, the label lists of by/without/on/ignoring/group_left/
group_right, function and aggregation names (an identifier followed by "("), keywords and
operators (and, or, unless, bool, offset, ...), numbers, durations, Inf/NaN and Grafana
variables ($x, ${x}, [[x]]).
"""

from __future__ import annotations

import json
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "monitoring" / "rules"
DASHBOARDS_DIR = REPO / "monitoring" / "dashboards"

KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan", "start", "end", "atan2",
}

# Metrics the binaries do not export but rules may use, by where they come from. Everything
# else must be exported by `nodeops gateway` / `nodeops exporter` or be a recording rule.
ALLOWED_EXTERNAL = {
    # Prometheus itself: scrape health and the ALERTS series of its own rules.
    "up": "prometheus",
    "ALERTS": "prometheus",
    "ALERTS_FOR_STATE": "prometheus",
    # kube-state-metrics (only in kubernetes.rules.yml and the fleet dashboard's k8s row)
    "kube_horizontalpodautoscaler_status_current_replicas": "kube-state-metrics",
    "kube_pod_container_resource_limits": "kube-state-metrics",
    # cAdvisor, through the kubelet
    "container_cpu_usage_seconds_total": "cadvisor",
    "container_memory_working_set_bytes": "cadvisor",
}
# node-exporter: any node_* metric; the blackbox exporter's probe of the public endpoint (also in
# the local stack, so not Kubernetes-only).
ALLOWED_EXTERNAL_PREFIXES = {"node_": "node-exporter", "probe_": "blackbox-exporter"}

# Series a future binary guarantees but today's does not export yet, with their exact label names
# (the rule tests use these label sets). test_metrics_exist.py tolerates their absence from a scrape
# and checks their labels once they appear; remove an entry when docs/interfaces.md lists it.
# Empty: nodeops_gateway_upstream_state and nodeops_gateway_head_regressions_total are exported now.
PROMISED_GATEWAY: dict[str, set[str]] = {}

# Metrics whose alerts kube-prometheus-stack already has (CPUThrottlingHigh, NodeCPUHighUsage): an
# alert of ours on them is a duplicate that fires next to theirs.
KUBE_PROMETHEUS_STACK_COVERS = {
    "container_cpu_usage_seconds_total": "CPUThrottlingHigh",
    "node_cpu_seconds_total": "NodeCPUHighUsage",
}


def is_external(name: str) -> bool:
    return name in ALLOWED_EXTERNAL or any(name.startswith(p) for p in ALLOWED_EXTERNAL_PREFIXES)


def is_kubernetes_only(name: str) -> bool:
    """Metrics that exist only in the cluster (no kube-state-metrics/cAdvisor/node-exporter locally)."""
    src = ALLOWED_EXTERNAL.get(name)
    if src in ("kube-state-metrics", "cadvisor"):
        return True
    return name.startswith("node_")


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' r"|'(?:[^'\\]|\\.)*'" r"|`[^`]*`")
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"((?:[^"\\]|\\.)*)"')
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_]\w*|\[\[[^\]]*\]\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w.:$])[A-Za-z_:][\w:]*")
_COMMENT = re.compile(r"#[^\n]*")


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (recording-rule names count as metric names)."""
    names = set(_NAME_MATCHER.findall(expr))
    text = _STRING.sub('""', expr)        # strings first, so a '#' or '{' in one is harmless
    text = _COMMENT.sub(" ", text)
    text = _GRAFANA_VAR.sub(" ", text)
    text = re.sub(r"\{[^{}]*\}", " ", text)          # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)        # ranges and subqueries
    text = _GROUPING.sub(" ", text)                  # by (...), on (...), group_left (...)
    text = re.sub(r"\b(?:group_left|group_right)\b", " ", text)
    for m in _IDENT.finditer(text):
        ident = m.group(0)
        rest = text[m.end():]
        if re.match(r"\s*\(", rest):                 # function or aggregation call
            continue
        if ident.lower() in KEYWORDS:
            continue
        names.add(ident)
    return names


# ---------------------------------------------------------------------------------- sources

def rule_files(include_kubernetes: bool = True) -> list[pathlib.Path]:
    files = sorted(RULES_DIR.glob("*.rules.yml"))
    if not include_kubernetes:
        files = [f for f in files if f.name != "kubernetes.rules.yml"]
    return files


def load_rules() -> list[dict]:
    """Every rule as {file, group, alert|record, expr, labels, annotations, for}."""
    import yaml

    out = []
    for path in rule_files():
        doc = yaml.safe_load(path.read_text())
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                out.append({"file": path.name, "group": group["name"], **rule})
    return out


def recording_rule_names() -> set[str]:
    return {r["record"] for r in load_rules() if "record" in r}


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana variables by concrete values so the expression is plain PromQL."""
    subst = {
        "__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
        "__interval_ms": "60000", "__range_ms": "3600000",
    }

    def repl(m: re.Match) -> str:
        token = m.group(0)
        name = token.strip("${}[]").split(":")[0]
        if name in subst:
            return subst[name]
        return "x"   # $chain, ${datasource}, ... sit inside "..." matchers: any text will do

    return _GRAFANA_VAR.sub(repl, expr)


def dashboard_files() -> list[pathlib.Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def iter_panels(panels: list[dict]):
    for p in panels:
        yield p
        yield from iter_panels(p.get("panels", []))


def dashboard_queries(path: pathlib.Path) -> list[dict]:
    """Every query of a dashboard: {dashboard, panel, kind: prometheus|loki|variable, expr}."""
    dash = json.loads(path.read_text())
    out = []
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        kind = "loki" if "loki" in json.dumps(var.get("datasource", "")).lower() else "variable"
        out.append({"dashboard": path.name, "panel": f"variable {var['name']}", "kind": kind, "expr": q})
    for panel in iter_panels(dash.get("panels", [])):
        ds = json.dumps(panel.get("datasource", "")).lower()
        kind = "loki" if "loki" in ds else "prometheus"
        for t in panel.get("targets", []):
            if "expr" in t:
                out.append({"dashboard": path.name, "panel": f'{panel.get("id")}: {panel.get("title")}',
                            "kind": kind, "expr": t["expr"]})
    return out


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.*?)\s*,\s*[A-Za-z_]\w*\s*\)\s*$", re.S)
_LABEL_VALUES_1 = re.compile(r"^\s*label_values\(\s*[A-Za-z_]\w*\s*\)\s*$")


def variable_query_to_promql(q: str) -> str | None:
    """label_values(metric{...}, label) -> metric{...}; query_result(x) -> x; else None."""
    if _LABEL_VALUES_1.match(q):
        return None
    m = _LABEL_VALUES.match(q)
    if m:
        return m.group(1)
    m = re.match(r"^\s*query_result\((.*)\)\s*$", q, re.S)
    if m:
        return m.group(1)
    return None


def used_metrics() -> dict[str, set[str]]:
    """metric name -> where it is used ("rule NodeOpsNodeDown", "dashboard x.json: 3: Title")."""
    used: dict[str, set[str]] = {}
    for r in load_rules():
        where = f'{r["file"]}: {r.get("alert") or r.get("record")}'
        for n in metric_names(r["expr"]):
            used.setdefault(n, set()).add(where)
    for path in dashboard_files():
        for q in dashboard_queries(path):
            if q["kind"] == "loki":
                continue
            expr = q["expr"] if q["kind"] == "prometheus" else variable_query_to_promql(q["expr"])
            if not expr:
                continue
            for n in metric_names(grafana_to_promql(expr)):
                used.setdefault(n, set()).add(f'{q["dashboard"]}: {q["panel"]}')
    return used


# ------------------------------------------------------------------------ exported families

def exported_names(exposition: str) -> set[str]:
    """Sample names a Prometheus text exposition can carry, from its `# TYPE` lines."""
    names = set()
    for line in exposition.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "#" and parts[1] == "TYPE":
            name, typ = parts[2], parts[3]
            names.add(name)
            if typ == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            elif typ == "summary":
                names |= {f"{name}_sum", f"{name}_count"}
            elif typ == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")   # OpenMetrics-style family name
    return names


def contract_names(interfaces_md: pathlib.Path | None = None) -> set[str]:
    """Metric names docs/interfaces.md promises (first cell of its metric tables)."""
    text = (interfaces_md or REPO / "docs" / "interfaces.md").read_text()
    section = text.split("## Metrics", 1)[-1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        first = line.split("|")[1]
        for n in re.findall(r"`([a-z_:][a-z0-9_:]*)`", first):
            names.add(n)
    for n in re.findall(r"`((?:process)_[a-z_]+)`", section):
        names.add(n)
    # Histogram types in the table: add their series.
    for line in section.splitlines():
        if "| histogram |" in line:
            for n in re.findall(r"`([a-z_:][a-z0-9_:]*)`", line.split("|")[1]):
                names |= {f"{n}_bucket", f"{n}_sum", f"{n}_count"}
    return names
