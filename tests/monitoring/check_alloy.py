#!/usr/bin/env python3
"""Structural check of monitoring/alloy/config.alloy. No Alloy binary exists on these machines
(it ships from Grafana's own repositories, not Debian or npm), so `alloy fmt`/`alloy run` cannot
run here; docs/monitoring.md says so. What this checks instead:

- brackets balance outside strings and comments, every string is closed;
- every block is `<component> "<label>" {` of a known component, or a known nested block;
- every reference `<component>.<label>.<export>` names a component defined in the file;
- the JSON fields the pipeline extracts are the log keys of docs/interfaces.md, and only the
  bounded ones (chain, level) become labels;
- every stream label the Loki dashboards select on is one the pipeline sets;
- the DaemonSet that grafana/alloy renders from deploy/helm/values/alloy*.yaml can run on every
  node: its storage path (--storage.path) is on a writable volume when the root filesystem is
  read-only, and its tolerations cover every taint the Terraform node groups carry. The chart
  comes from Grafana's repository, unreachable here, so its pod template is modelled from the
  keys it reads (chart 1.2.0, the version scripts/deploy.sh pins): alloy.storagePath (default
  /tmp/alloy), alloy.mounts.extra, controller.volumes.extra, controller.tolerations.
"""

import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from promql_names import REPO, dashboard_files, dashboard_queries  # noqa: E402

CONFIG = REPO / "monitoring" / "alloy" / "config.alloy"
COMPONENTS = {"discovery.kubernetes", "discovery.relabel", "loki.source.kubernetes",
              "loki.process", "loki.write", "loki.relabel"}
NESTED = {"selectors", "rule", "stage.match", "stage.json", "stage.timestamp", "stage.labels",
          "stage.structured_metadata", "stage.regex", "stage.template", "endpoint"}
EXPORTS = {"targets", "output", "receiver", "rules"}
LOG_KEYS = {"ts", "level", "msg", "chain", "upstream", "method", "status", "duration_ms",
            "target", "pool", "reason"}
BOUNDED_LABELS = {"chain", "level"}

failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL {msg}")


def strip(text):
    """Replace comments and string contents, keeping line structure; fail on open strings."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                if text[j] == "\n":
                    fail(f"string not closed on line {text.count(chr(10), 0, i) + 1}")
                    break
                j += 1
            out.append('""')
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


ALLOY_VALUES = REPO / "deploy" / "helm" / "values"
TERRAFORM = REPO / "deploy" / "terraform"
CHART_DEFAULT_STORAGE_PATH = "/tmp/alloy"


def merge(base, over):
    """Helm's -f layering: maps merge, everything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v)
        return out
    return over


def node_group_taints(tfvars: pathlib.Path) -> list[dict]:
    """Taints of an environment's node groups, as the node-groups module derives them: gateway
    groups get nodeops.io/pool=gateway, chain groups nodeops.io/chain=<chain> (both NoSchedule),
    plus any `taints` a group lists."""
    text = tfvars.read_text()
    taints = []
    for m in re.finditer(r'kind\s*=\s*"(\w+)"(?:\s*\n\s*chain\s*=\s*"([\w-]+)")?', text):
        if m.group(1) == "gateway":
            taints.append({"key": "nodeops.io/pool", "value": "gateway", "effect": "NoSchedule"})
        elif m.group(1) == "chain":
            taints.append({"key": "nodeops.io/chain", "value": m.group(2), "effect": "NoSchedule"})
    effects = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
    for m in re.finditer(r'\{\s*key\s*=\s*"([^"]+)"(?:\s*,\s*value\s*=\s*"([^"]*)")?\s*,\s*effect\s*=\s*"(\w+)"',
                         text):
        taints.append({"key": m.group(1), "value": m.group(2) or "", "effect": effects[m.group(3)]})
    return taints


def tolerates(tol: dict, taint: dict) -> bool:
    """Kubernetes' rule: effect empty or equal; Exists matches the key (or every key when empty),
    Equal (the default) matches key and value."""
    if tol.get("effect") and tol["effect"] != taint["effect"]:
        return False
    if tol.get("operator", "Equal") == "Exists":
        return not tol.get("key") or tol["key"] == taint["key"]
    return tol.get("key") == taint["key"] and tol.get("value", "") == taint["value"]


def check_daemonset():
    import yaml

    module = (TERRAFORM / "modules" / "node-groups" / "main.tf").read_text()
    for derived in ('key = "nodeops.io/pool", value = "gateway"', 'key = "nodeops.io/chain", value = g.chain'):
        if derived not in module:
            fail(f"node-groups module no longer sets the taint {derived!r}: update node_group_taints()")
    base = yaml.safe_load((ALLOY_VALUES / "alloy.yaml").read_text())
    for env in ("dev", "staging", "prod"):
        values = merge(base, yaml.safe_load((ALLOY_VALUES / f"alloy-{env}.yaml").read_text()) or {})
        alloy, controller = values.get("alloy", {}), values.get("controller", {})
        path = alloy.get("storagePath", CHART_DEFAULT_STORAGE_PATH)
        if alloy.get("securityContext", {}).get("readOnlyRootFilesystem"):
            volumes = {v["name"]: v for v in controller.get("volumes", {}).get("extra", [])}
            mounts = [m for m in alloy.get("mounts", {}).get("extra", [])
                      if not m.get("readOnly") and (path + "/").startswith(m["mountPath"].rstrip("/") + "/")]
            writable = [m for m in mounts
                        if any(k in volumes.get(m["name"], {}) for k in ("emptyDir", "hostPath", "ephemeral"))]
            if not writable:
                fail(f"alloy-{env}: root filesystem is read-only and --storage.path={path} is on no "
                     "writable volume (alloy.mounts.extra + controller.volumes.extra): Alloy cannot start")
        tolerations = controller.get("tolerations", [])
        for taint in node_group_taints(TERRAFORM / "envs" / env / "terraform.tfvars"):
            if taint["effect"] != "PreferNoSchedule" and not any(tolerates(t, taint) for t in tolerations):
                fail(f"alloy-{env}: the DaemonSet does not tolerate {taint['key']}={taint['value']}:"
                     f"{taint['effect']}, so no logs from those nodes")


def main():
    text = CONFIG.read_text()
    code = strip(text)
    depth, stack = 0, []
    for lineno, line in enumerate(code.splitlines(), 1):
        for ch in line:
            if ch in "{[(":
                stack.append((ch, lineno))
            elif ch in "}])":
                if not stack or "{[(".index(stack[-1][0]) != "}])".index(ch):
                    fail(f"line {lineno}: unbalanced {ch!r}")
                    return 1
                stack.pop()
    if stack:
        fail(f"unclosed {stack[-1][0]!r} from line {stack[-1][1]}")

    defined = set()
    for m in re.finditer(r'^\s*([a-z_][a-z0-9_.]*)\s*(""\s*)?\{\s*$', code, re.M):
        name, labelled = m.group(1), m.group(2)
        if labelled:
            if name not in COMPONENTS:
                fail(f"unknown component {name}")
        elif name not in NESTED:
            fail(f"unknown block {name}")
    for m in re.finditer(r'^\s*([a-z_][a-z0-9_.]*)\s+"([a-z0-9_]+)"\s*\{', text, re.M):
        defined.add(f"{m.group(1)}.{m.group(2)}")
    for m in re.finditer(r"\b((?:discovery|loki)\.[a-z_.]+)\.([a-z_]+)\b", code):
        comp, export = m.group(1), m.group(2)
        if export in EXPORTS and comp not in defined:
            fail(f"reference {comp}.{export} to an undefined component")
    for needed in ("loki.write.default.receiver", "loki.process.pods.receiver"):
        if needed not in code:
            fail(f"{needed} is never referenced: the pipeline does not reach Loki")

    json_block = re.search(r"stage\.json\s*\{\s*expressions\s*=\s*\{(.*?)\}", text, re.S)
    fields = set(re.findall(r'^\s*\w+\s*=\s*"(\w+)"', json_block.group(1), re.M)) if json_block else set()
    if not fields:
        fail("no stage.json expressions")
    for f in sorted(fields - LOG_KEYS):
        fail(f"stage.json extracts {f!r}, which is not a log key of docs/interfaces.md")
    labels = set()
    for blk in re.findall(r"stage\.labels\s*\{\s*values\s*=\s*\{(.*?)\}", text, re.S):
        labels |= set(re.findall(r"^\s*(\w+)\s*=", blk, re.M))
    for lab in sorted(labels - BOUNDED_LABELS):
        fail(f"stage.labels makes {lab!r} a label: unbounded values belong in structured_metadata")
    stream_labels = labels | set(re.findall(r'target_label\s*=\s*"(\w+)"', text))
    for path in dashboard_files():
        for q in dashboard_queries(path):
            if q["kind"] != "loki":
                continue
            sel = re.search(r"\{([^}]*)\}", q["expr"])
            for lab in re.findall(r'(\w+)\s*(?:=~|!~|!=|=)\s*"', sel.group(1) if sel else ""):
                if lab not in stream_labels:
                    fail(f'{q["dashboard"]}: {q["panel"]}: selects on {lab!r}, which Alloy does not set')
    check_daemonset()
    print(f"check_alloy: {len(defined)} components, labels {sorted(stream_labels)}, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
