#!/usr/bin/env python3
"""Checks over rendered manifests that a schema cannot make (tests/deploy/helm_test.sh runs them).

  deploy_checks.py flags FILE...            client args exist in the pinned client's flag list
  deploy_checks.py refs ENV RENDER_DIR      every reference resolves (see check_refs)
  deploy_checks.py scheduling ENV RENDER_DIR  every pod fits the node groups Terraform declares
  deploy_checks.py images CHART_DIR DOCKERFILE  the restore image has every tool restore.sh runs
  deploy_checks.py upstream-keys [DEPLOY_SH [VALUES_DIR]]
                                            our values of the upstream charts deploy.sh pins (and its
                                            --set keys) use only keys of that chart version
                                            (fixtures/upstream-values, tests/deploy/record_upstream_values.sh)
  deploy_checks.py chart-keys GIT_DIR COMMIT CHART_PATH [PREFIX]
                                            print a chart's key tree (how those fixtures are made)

Each prints one line per problem and exits non-zero when there is any.
"""
import json
import os
import re
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "deploy", "fixtures")


def load_docs(paths):
    for p in paths:
        with open(p) as f:
            for d in yaml.safe_load_all(f):
                if isinstance(d, dict) and d.get("kind"):
                    yield d


def pod_specs(docs):
    """(owner, pod spec) for every workload that makes pods."""
    for d in docs:
        kind = d["kind"]
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield d, d["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield d, d["spec"]


def name_of(d):
    return f'{d["kind"]}/{d["metadata"].get("namespace", "-")}/{d["metadata"]["name"]}'


# ---- flags ---------------------------------------------------------------------------------------
def load_flag_fixtures():
    """client -> (pinned tag, set of flags, release the flags come from). Each fixture has
    `# pin: <tag>` (moving a pin without refreshing the flag list from that release fails here) and
    `# flags-from: <tag or commit>` (what the list was read from, when the pinned tag could not be)."""
    out = {}
    d = os.path.join(FIXTURES, "client-flags")
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".txt"):
            continue
        pin, source, flags = None, None, set()
        for line in open(os.path.join(d, fn)):
            line = line.strip()
            m = re.match(r"# pin: (\S+)$", line)
            s = re.match(r"# flags-from: (.+)$", line)
            if m:
                pin = m.group(1)
            elif s:
                source = s.group(1).strip()
            elif line.startswith("--"):
                flags.add(line)
        out[fn[:-4]] = (pin, flags, source or pin)
    return out


AGAVE_MIN_DYNAMIC_PORTS = 26  # Agave CHANGELOG 4.1.0: "--dynamic-port-range must be at least 26 wide"


def agave_requirements(where, container):
    """What Agave 4.x refuses to start without, beyond flag names (CHANGELOG 4.1.0 and 4.2.0)."""
    problems = []
    args = [a for a in container.get("args", []) if isinstance(a, str)]
    ranges = [a.split("=", 1)[1] for a in args if a.startswith("--dynamic-port-range=")]
    for r in ranges:
        lo, _, hi = r.partition("-")
        if not (lo.isdigit() and hi.isdigit()) or int(hi) - int(lo) < AGAVE_MIN_DYNAMIC_PORTS:
            problems.append(f"{where}: --dynamic-port-range={r} is narrower than the "
                            f"{AGAVE_MIN_DYNAMIC_PORTS} ports Agave 4.1+ binds")
    caps = set(((container.get("securityContext") or {}).get("capabilities") or {}).get("add") or [])
    if "--no-xdp" not in args and not {"NET_ADMIN", "NET_RAW"} <= caps:
        problems.append(f"{where}: XDP is on by default from Agave 4.2 and needs NET_ADMIN and NET_RAW; "
                        "pass --no-xdp or add both capabilities")
    return problems


def check_flags(paths):
    fixtures = load_flag_fixtures()
    problems, checked = [], 0
    for owner, spec in pod_specs(load_docs(paths)):
        for c in spec.get("containers", []):
            if c["name"] not in fixtures:
                continue
            pin, known, _ = fixtures[c["name"]]
            tag = c["image"].rsplit(":", 1)[-1]
            where = f'{name_of(owner)} container {c["name"]}'
            if tag != pin:
                problems.append(f"{where}: image tag {tag} but the flag fixture is for {pin} "
                                f"(refresh tests/deploy/fixtures/client-flags/{c['name']}.txt from that release)")
            for a in c.get("args", []):
                if not a.startswith("-"):
                    continue  # a subcommand (node, bn, server, start) or a flag's separate value
                flag = "--" + a.split("=", 1)[0].lstrip("-")
                checked += 1
                if flag not in known:
                    problems.append(f"{where}: {flag} is not a flag of {c['name']} {pin}")
            problems += agave_requirements(where, c) if c["name"] == "agave" else []
    if checked == 0:
        problems.append("no client container found: the check checked nothing")
    # Said in every run, not failed: a list read from an older release than the pin cannot catch a
    # flag the pinned release removed (tests/deploy/fixtures/client-flags/README.md).
    older = [f"{n} {pin} (flags from {src})" for n, (pin, _, src) in sorted(fixtures.items()) if src != pin]
    summary = f"{checked} client args checked"
    if older:
        summary += "; flag lists not from the pinned release: " + ", ".join(older)
    return problems, summary




# ---- references ----------------------------------------------------------------------------------
def required_secrets(env_chains=None):
    """namespace/name -> keys, from deploy/required-secrets.txt (the Secrets made by hand)."""
    out = {}
    for line in open(os.path.join(ROOT, "deploy", "required-secrets.txt")):
        parts = line.split("#", 1)[0].split()
        if len(parts) == 3:
            out[parts[1]] = [] if parts[2] == "-" else parts[2].split(",")
    return out


def check_refs(env, render_dir):
    """Every reference in the environment's render resolves: PVC StorageClasses, Secrets,
    ConfigMaps, ServiceAccounts and PriorityClasses exist in the render (or, for Secrets, in
    deploy/required-secrets.txt, which deploy.sh checks on the cluster before installing); every
    IRSA annotation carries a role ARN (deploy.sh fills it from Terraform); the upstream charts'
    values name only StorageClasses and Secrets that exist, and the service accounts Terraform's
    roles trust."""
    files = sorted(os.path.join(render_dir, f) for f in os.listdir(render_dir) if f.endswith(".yaml"))
    docs = list(load_docs(files))
    have = {}
    for d in docs:
        have.setdefault(d["kind"], set()).add((d["metadata"].get("namespace"), d["metadata"]["name"]))
    classes = {n for _, n in have.get("StorageClass", set())}
    priority = {n for _, n in have.get("PriorityClass", set())}
    by_hand = required_secrets()
    problems, refs = [], 0

    def need(kind, ns, name, where):
        nonlocal refs
        refs += 1
        if (ns, name) in have.get(kind, set()):
            return
        if kind == "Secret" and f"{ns}/{name}" in by_hand:
            return
        problems.append(f"{where}: {kind} {ns}/{name} is neither rendered" +
                        (" nor listed in deploy/required-secrets.txt" if kind == "Secret" else ""))

    for d in docs:
        ns = d["metadata"].get("namespace")
        if d["kind"] == "ServiceAccount":
            arn = (d["metadata"].get("annotations") or {}).get("eks.amazonaws.com/role-arn")
            if arn is not None:
                refs += 1
                if not re.match(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+", arn):
                    problems.append(f"{name_of(d)}: eks.amazonaws.com/role-arn is {arn!r}, not a role ARN from Terraform")
        if d["kind"] == "StatefulSet":
            for t in d["spec"].get("volumeClaimTemplates") or []:
                sc = t["spec"].get("storageClassName")
                refs += 1
                if sc not in classes:
                    problems.append(f"{name_of(d)} volume {t['metadata']['name']}: StorageClass {sc} is not rendered")
        if d["kind"] == "PersistentVolumeClaim":
            refs += 1
            if d["spec"].get("storageClassName") not in classes:
                problems.append(f"{name_of(d)}: StorageClass {d['spec'].get('storageClassName')} is not rendered")
    for owner, spec in pod_specs(docs):
        ns, where = owner["metadata"].get("namespace"), name_of(owner)
        need("ServiceAccount", ns, spec.get("serviceAccountName", "default"), where) if spec.get("serviceAccountName") else None
        if spec.get("priorityClassName"):
            refs += 1
            if spec["priorityClassName"] not in priority:
                problems.append(f"{where}: PriorityClass {spec['priorityClassName']} is not rendered")
        for v in spec.get("volumes") or []:
            if "secret" in v:
                need("Secret", ns, v["secret"]["secretName"], where)
            if "configMap" in v:
                need("ConfigMap", ns, v["configMap"]["name"], where)
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                if "secretKeyRef" in vf:
                    need("Secret", ns, vf["secretKeyRef"]["name"], f"{where} container {c['name']}")
                if "configMapKeyRef" in vf:
                    need("ConfigMap", ns, vf["configMapKeyRef"]["name"], f"{where} container {c['name']}")
            for e in c.get("envFrom") or []:
                if "secretRef" in e:
                    need("Secret", ns, e["secretRef"]["name"], f"{where} container {c['name']}")
                if "configMapRef" in e:
                    need("ConfigMap", ns, e["configMapRef"]["name"], f"{where} container {c['name']}")

    # An HPA's custom metric must be served by a prometheus-adapter rule (else it never scales on it).
    adapter_path = os.path.join(ROOT, "deploy", "helm", "values", "prometheus-adapter.yaml")
    served = set()
    if os.path.exists(adapter_path):
        rules = ((yaml.safe_load(open(adapter_path)) or {}).get("rules") or {}).get("custom") or []
        served = {(r.get("name") or {}).get("as") for r in rules}
    for d in docs:
        if d["kind"] == "HorizontalPodAutoscaler":
            for m in d["spec"].get("metrics", []):
                if m["type"] == "Pods":
                    refs += 1
                    if m["pods"]["metric"]["name"] not in served:
                        problems.append(f"{name_of(d)}: Pods metric {m['pods']['metric']['name']} is served by no rule in values/prometheus-adapter.yaml")
        # A public endpoint outside dev sits behind the WAF web ACL Terraform creates.
        if d["kind"] == "Ingress" and env != "dev":
            ann = d["metadata"].get("annotations") or {}
            if ann.get("alb.ingress.kubernetes.io/scheme") == "internet-facing":
                refs += 1
                if not ann.get("alb.ingress.kubernetes.io/wafv2-acl-arn", "").startswith("arn:aws"):
                    problems.append(f"{name_of(d)}: internet-facing without a WAF web ACL (Terraform helm.waf_acl_arn)")

    # The upstream charts are not rendered offline: check what their values files name.
    vals = os.path.join(ROOT, "deploy", "helm", "values")
    for fn in sorted(os.listdir(vals)):
        if not fn.endswith(".yaml") or not re.match(rf"^[a-z-]+(-{env})?\.yaml$", fn):
            continue
        if re.search(r"-(dev|staging|prod)\.yaml$", fn) and not fn.endswith(f"-{env}.yaml"):
            continue
        data = yaml.safe_load(open(os.path.join(vals, fn))) or {}

        def walk(x, path):
            nonlocal refs
            if isinstance(x, dict):
                for k, v in x.items():
                    if k in ("storageClassName", "storageClass") and isinstance(v, str):
                        refs += 1
                        if v not in classes:
                            problems.append(f"values/{fn} {path}.{k}: StorageClass {v} is not rendered by the cluster chart")
                    elif k in ("existingSecret", "configSecret") and isinstance(v, str) and v:
                        need("Secret", "monitoring", v, f"values/{fn} {path}.{k}")
                    elif k == "secrets" and isinstance(v, list) and all(isinstance(i, str) for i in v):
                        for name in v:
                            need("Secret", "monitoring", name, f"values/{fn} {path}.secrets")
                    else:
                        walk(v, f"{path}.{k}")
            elif isinstance(x, list):
                for i, v in enumerate(x):
                    walk(v, f"{path}[{i}]")
        walk(data, fn[:-5])

    # Terraform's IRSA roles trust one service account each: the upstream values must use it.
    tf = open(os.path.join(ROOT, "deploy", "terraform", "modules", "workload-iam", "variables.tf")).read()
    for var, values_file, path in (("cluster_autoscaler", "cluster-autoscaler.yaml", ("rbac", "serviceAccount", "name")),):
        refs += 1
        if f'variable "{var}"' not in tf or not os.path.exists(os.path.join(vals, values_file)):
            problems.append(f"{var}: no IAM role in modules/workload-iam or no values/{values_file}")
            continue
        block = tf[tf.index(f'variable "{var}"'):]
        trusted = re.search(r'service_account\s*=\s*optional\(string,\s*"([^"]+)"\)', block).group(1)
        got = yaml.safe_load(open(os.path.join(vals, values_file)))
        for k in path:
            got = (got or {}).get(k)
        if got != trusted:
            problems.append(f"values/{values_file} {'.'.join(path)} is {got!r}; Terraform's role trusts {trusted!r}")
    return problems, f"{env}: {refs} references"


# ---- scheduling ----------------------------------------------------------------------------------
# vCPU and GiB per instance type the environments use; a pool with several types is judged by the
# smallest (the autoscaler may launch any of them).
INSTANCE_TYPES = {
    "t3.medium": (2, 4), "t3a.medium": (2, 4), "c7i.large": (2, 4), "c6i.large": (2, 4),
    "c7i.xlarge": (4, 8), "c6i.xlarge": (4, 8), "m7i.large": (2, 8), "m6i.large": (2, 8),
    "m7i.xlarge": (4, 16), "m6i.xlarge": (4, 16), "m7i.2xlarge": (8, 32), "m6i.2xlarge": (8, 32),
    "m7i.4xlarge": (16, 64), "m6i.4xlarge": (16, 64), "r7i.2xlarge": (8, 64), "r6i.2xlarge": (8, 64),
    "r7i.4xlarge": (16, 128), "r6i.4xlarge": (16, 128), "r7a.4xlarge": (16, 128), "r6a.4xlarge": (16, 128),
    "r7a.8xlarge": (32, 256), "r7a.12xlarge": (48, 384), "r7a.16xlarge": (64, 512),
    "r6id.8xlarge": (32, 256), "r6id.16xlarge": (64, 512), "r7i.8xlarge": (32, 256),
}
# Per node, before any pod of ours: kubelet/system reservation (EKS AL2023: 255Mi + 11Mi per pod
# slot at 110 slots, 100Mi eviction; ~0.1 CPU) and the DaemonSets every node runs (aws-node,
# kube-proxy, ebs-csi-node, eks-pod-identity-agent, node-exporter, Alloy), ~0.35 CPU and 0.75 GiB.
NODE_RESERVED_CPU = 0.45
NODE_RESERVED_MEM = (255 + 11 * 110 + 100) / 1024 + 0.75


def cpu(v):
    v = str(v)
    return float(v[:-1]) / 1000 if v.endswith("m") else float(v)


def mem(v):
    """GiB."""
    v = str(v)
    units = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1, "Ti": 2**10, "K": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30}
    for u, f in units.items():
        if v.endswith(u):
            return float(v[: -len(u)]) * f
    return float(v) / 2**30


def pod_requests(spec):
    """Effective requests: sum of containers and native sidecars, or the largest init step."""
    def req(c):
        r = (c.get("resources") or {}).get("requests") or {}
        return cpu(r.get("cpu", 0)), mem(r.get("memory", 0))
    main = [req(c) for c in spec.get("containers", [])]
    sidecars = [req(c) for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    inits = [req(c) for c in spec.get("initContainers", []) if c.get("restartPolicy") != "Always"]
    c = sum(x[0] for x in main + sidecars)
    m = sum(x[1] for x in main + sidecars)
    side_c, side_m = sum(x[0] for x in sidecars), sum(x[1] for x in sidecars)
    for ic, im in inits:
        c, m = max(c, ic + side_c), max(m, im + side_m)
    return c, m


class Pod:
    def __init__(self, name, spec, labels):
        self.name, self.labels = name, labels
        self.cpu, self.mem = pod_requests(spec)
        self.node_selector = spec.get("nodeSelector") or {}
        self.tolerations = spec.get("tolerations") or []
        self.anti = [t["labelSelector"].get("matchLabels", {}) for t in
                     ((spec.get("affinity") or {}).get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution", [])
                     if t.get("topologyKey") == "kubernetes.io/hostname"]
        self.spread = [(t["maxSkew"], t["labelSelector"].get("matchLabels", {})) for t in spec.get("topologySpreadConstraints", [])
                       if t.get("topologyKey") == "topology.kubernetes.io/zone" and t.get("whenUnsatisfiable") == "DoNotSchedule"]
        self.host_network = bool(spec.get("hostNetwork"))


def matches(sel, labels):
    return all(labels.get(k) == v for k, v in sel.items())


def tolerates(pod, taint):
    for t in pod.tolerations:
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint["key"]):
            return True
        if t.get("key") == taint["key"] and t.get("value") == taint.get("value") and t.get("effect") in (None, taint["effect"]):
            return True
    return False


def nodes_of(env):
    """Every node the environment's node groups can have: each group at max_size, spread over its
    zones the way an Auto Scaling group balances them."""
    path = os.path.join(ROOT, "deploy", "terraform", "envs", env, "node_groups.auto.tfvars.json")
    groups = json.load(open(path))["node_groups"]
    tfvars = open(os.path.join(ROOT, "deploy", "terraform", "envs", env, "terraform.tfvars")).read()
    az_count = int(re.search(r"az_count\s*=\s*(\d+)", tfvars).group(1))
    nodes = []
    for name, g in groups.items():
        types = g["instance_types"]
        unknown = [t for t in types if t not in INSTANCE_TYPES]
        if unknown:
            raise SystemExit(f"scheduling: add {unknown} to INSTANCE_TYPES in {__file__}")
        vcpu, gib = min((INSTANCE_TYPES[t] for t in types), key=lambda x: (x[0], x[1]))
        labels = {"nodeops.io/pool": name, "nodeops.io/kind": g["kind"], **(g.get("labels") or {})}
        taints = list(g.get("taints") or [])
        if g["kind"] == "gateway":
            taints.insert(0, {"key": "nodeops.io/pool", "value": "gateway", "effect": "NoSchedule"})
        if g["kind"] == "chain":
            labels["nodeops.io/chain"] = g["chain"]
            taints.insert(0, {"key": "nodeops.io/chain", "value": g["chain"], "effect": "NoSchedule"})
        zones = g.get("subnet_indexes") or list(range(az_count))
        for i in range(g["max_size"]):
            nodes.append({"name": f"{name}-{i}", "labels": {**labels, "topology.kubernetes.io/zone": f"zone-{zones[i % len(zones)]}"},
                          "taints": taints, "cpu": vcpu - NODE_RESERVED_CPU, "mem": gib * 0.93 - NODE_RESERVED_MEM, "pods": []})
    return nodes


def upstream_pods(env):
    """Pods of the upstream charts deploy.sh installs, from their values files (requests given there,
    else the chart's default noted here). They carry no nodeSelector/tolerations of ours, so only the
    untainted system pool can take them."""
    vals = os.path.join(ROOT, "deploy", "helm", "values")

    def load(chart):
        out = {}
        for f in (f"{chart}.yaml", f"{chart}-{env}.yaml"):
            p = os.path.join(vals, f)
            if os.path.exists(p):
                out = merge(out, yaml.safe_load(open(p)) or {})
        return out

    def get(d, path, default=None):
        for k in path.split("."):
            if not isinstance(d, dict) or k not in d:
                return default
            d = d[k]
        return d

    def mk(name, n, res, spread=False, extra=None):
        spec = {"containers": [{"name": "c", "resources": {"requests": res or {}}}], **(extra or {})}
        labels = {"app": name}
        if spread:
            spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                  "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}]
        return [Pod(f"{name}-{i}", spec, labels) for i in range(int(n or 0))]

    kps, loki = load("kube-prometheus-stack"), load("loki")
    ca, alb = load("cluster-autoscaler"), load("aws-load-balancer-controller")
    pods = []
    pods += mk("prometheus", get(kps, "prometheus.prometheusSpec.replicas", 1), get(kps, "prometheus.prometheusSpec.resources.requests"),
               spread=bool(get(kps, "prometheus.prometheusSpec.topologySpreadConstraints")))
    pods += mk("alertmanager", get(kps, "alertmanager.alertmanagerSpec.replicas", 1), get(kps, "alertmanager.alertmanagerSpec.resources.requests"))
    pods += mk("grafana", get(kps, "grafana.replicas", 1), get(kps, "grafana.resources.requests"))
    pods += mk("prometheus-operator", 1, get(kps, "prometheusOperator.resources.requests"))
    pods += mk("kube-state-metrics", 1, get(kps, "kube-state-metrics.resources.requests"))
    for comp in ("singleBinary", "read", "write", "backend"):
        pods += mk(f"loki-{comp}", get(loki, f"{comp}.replicas", 0), get(loki, f"{comp}.resources.requests"))
    # Loki's memcached caches request their allocatedMemory plus 20% (chart defaults 8192/1024 MB).
    for cache, default_mb in (("chunksCache", 8192), ("resultsCache", 1024)):
        if get(loki, f"{cache}.enabled", True):
            mb = get(loki, f"{cache}.allocatedMemory", default_mb)
            pods += mk(f"loki-{cache}", get(loki, f"{cache}.replicas", 1), {"cpu": "500m", "memory": f"{int(mb * 1.2)}Mi"})
    pods += mk("loki-gateway", get(loki, "gateway.replicas", 1), get(loki, "gateway.resources.requests"))
    adapter = load("prometheus-adapter")
    pods += mk("prometheus-adapter", get(adapter, "replicas", 1), get(adapter, "resources.requests"))
    pods += mk("cluster-autoscaler", get(ca, "replicaCount", 1), get(ca, "resources.requests"))
    pods += mk("aws-load-balancer-controller", get(alb, "replicaCount", 2), get(alb, "resources.requests"))
    pods += mk("coredns", 2, {"cpu": "100m", "memory": "70Mi"})
    pods += mk("ebs-csi-controller", 2, {"cpu": "60m", "memory": "240Mi"})
    return pods


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def our_pods(render_dir):
    docs = list(load_docs(sorted(os.path.join(render_dir, f) for f in os.listdir(render_dir) if f.endswith(".yaml"))))
    hpa_max = {(d["metadata"].get("namespace"), d["spec"]["scaleTargetRef"]["name"]): d["spec"]["maxReplicas"]
               for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    pods = []
    for owner, spec in pod_specs(docs):
        ns, name = owner["metadata"].get("namespace"), owner["metadata"]["name"]
        # Deployments count at their HPA's maximum: the nodes must hold what the HPA may ask for.
        n = hpa_max.get((ns, name), owner["spec"].get("replicas", 1))
        labels = owner["spec"]["template"]["metadata"].get("labels", {})
        pods += [Pod(f"{ns}/{name}-{i}", spec, labels) for i in range(n)]
    return pods


def place(pods, nodes):
    """First fit, largest pods first, honouring resources, nodeSelector, taints, required host
    anti-affinity, zone spread (DoNotSchedule) and hostNetwork port clashes (one hostNetwork pod
    per chain per node). Returns the pods that fit nowhere, with why."""
    failed = []
    for pod in sorted(pods, key=lambda p: (-p.mem, -p.cpu, p.name)):
        eligible = [n for n in nodes if matches(pod.node_selector, n["labels"])
                    and all(tolerates(pod, t) for t in n["taints"] if t["effect"] in ("NoSchedule", "NoExecute"))]
        if not eligible:
            failed.append(f"{pod.name}: no node group matches its nodeSelector {pod.node_selector} and tolerations")
            continue
        zones = sorted({n["labels"]["topology.kubernetes.io/zone"] for n in eligible})
        fits_any = False
        for n in sorted(eligible, key=lambda n: (len(n["pods"]), n["name"])):
            if n["cpu"] + 1e-9 < pod.cpu or n["mem"] + 1e-9 < pod.mem:
                continue
            fits_any = True
            if any(matches(sel, q.labels) for sel in pod.anti for q in n["pods"]):
                continue
            if pod.host_network and any(q.host_network and q.labels.get("nodeops.io/chain") == pod.labels.get("nodeops.io/chain") for q in n["pods"]):
                continue
            ok = True
            for skew, sel in pod.spread:
                count = {z: 0 for z in zones}
                for m in eligible:
                    count[m["labels"]["topology.kubernetes.io/zone"]] += sum(1 for q in m["pods"] if matches(sel, q.labels))
                count[n["labels"]["topology.kubernetes.io/zone"]] += 1
                if max(count.values()) - min(count.values()) > skew:
                    ok = False
            if not ok:
                continue
            n["pods"].append(pod)
            n["cpu"] -= pod.cpu
            n["mem"] -= pod.mem
            break
        else:
            why = "no node has room" if not fits_any else "anti-affinity/zone spread/host ports leave no node"
            failed.append(f"{pod.name} ({pod.cpu:g} CPU, {pod.mem:.1f} GiB): {why} in pools "
                          f"{sorted({n['labels']['nodeops.io/pool'] for n in eligible})} at max size")
    return failed


def check_scheduling(env, render_dir):
    nodes = nodes_of(env)
    pods = our_pods(render_dir) + upstream_pods(env)
    failed = place(pods, nodes)
    return failed, f"{env}: {len(pods)} pods on {len(nodes)} nodes (node groups at max size)"



# ---- images --------------------------------------------------------------------------------------
# Commands the chart's scripts run -> the Alpine package that provides them.
PACKAGE_OF = {"aws": "aws-cli", "curl": "curl", "tar": "tar", "gzip": "gzip", "zstd": "zstd", "lz4": "lz4"}


def check_images(chart_dir, dockerfile):
    """Every tool the snapshot restore script runs (downloaders, tar, each decompressor it
    dispatches an archive type to) is installed by the image the chart uses for it."""
    import subprocess
    helm = os.environ.get("HELM", os.path.join(ROOT, ".tools", "bin", "helm"))
    out = subprocess.run([helm, "template", "x", chart_dir, "--set", "snapshot.enabled=true",
                          "--set", "snapshot.url=https://example.org/a.tar.zst",
                          "--show-only", "templates/configmap.yaml"], capture_output=True, text=True, check=True).stdout
    script = yaml.safe_load(out)["data"]["restore.sh"]
    used = set(re.findall(r'DECOMPRESS="([a-z0-9]+)', script))
    used |= {c for c in ("aws", "curl", "tar") if re.search(rf"(^|[|;]\s*|\s){c}\s", script, re.M)}
    text = open(dockerfile).read()
    installed = set(re.findall(r"apk add[^\n]*", text)[0].split()[2:]) if "apk add" in text else set()
    problems = [f"restore.sh runs {c}, but {dockerfile} does not install {PACKAGE_OF.get(c, c)}"
                for c in sorted(used - {"cat"}) if PACKAGE_OF.get(c, c) not in installed]
    values = yaml.safe_load(open(os.path.join(chart_dir, "values.yaml")))
    repo = values["snapshot"]["image"]["repository"]
    if not repo.endswith("/" + os.path.basename(os.path.dirname(dockerfile))):
        problems.append(f"snapshot.image.repository is {repo}, not the image built from {dockerfile}")
    return problems, f"restore.sh uses {sorted(used)}"


# ---- upstream chart keys --------------------------------------------------------------------------
# A key whose value is a Kubernetes object or a free-form map in every chart that has it: the chart
# passes it through (resources, securityContext, annotations ...), so its sub-keys are Kubernetes
# API fields or the user's own names, not the chart's. The check stops descending there.
PASSTHROUGH_KEYS = {
    "annotations", "labels", "podAnnotations", "podLabels", "nodeSelector", "affinity", "tolerations",
    "resources", "securityContext", "podSecurityContext", "containerSecurityContext",
    "topologySpreadConstraints", "extraArgs", "env", "extraEnv", "extraVolumes", "extraVolumeMounts",
    "storageSpec", "volumeClaimTemplate", "additionalLabels", "commonLabels",
}


def _key_escape(k):
    return str(k).replace(".", "\\.")


def key_tree(doc, prefix=""):
    """(path, kind) of every key of a values document; kind is map, {}, list, scalar or null."""
    out = []
    for k, v in (doc or {}).items():
        path = f"{prefix}{_key_escape(k)}"
        if isinstance(v, dict):
            out.append((path, "map" if v else "{}"))
            out.extend(key_tree(v, path + "."))
        elif isinstance(v, list):
            out.append((path, "list"))
        else:
            out.append((path, "null" if v is None else "scalar"))
    return out


VALUES_REF = re.compile(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
# The template renders the whole map (the chart's config blocks): any key below it is accepted.
WHOLE_MAP = [re.compile(r"toYaml\s+\(?\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)"),
             re.compile(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*\|\s*toYaml")]
WITH_VALUES = re.compile(r"\{\{-?\s*with\s+\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*-?\}\}")


def chart_keys(git_dir, commit, chart_path, prefix=""):
    """The key tree of a chart at a commit: values.yaml's keys with the kind of their default, plus
    `ref` for every .Values path its templates (and tpl strings in values.yaml) read, and `any` for
    a map a template renders whole (toYaml). Key names only."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True,
                              text=True).stdout

    values_text = git("show", f"{commit}:{chart_path}/values.yaml")
    tree = {path: kind for path, kind in key_tree(yaml.safe_load(values_text))}
    sources = [values_text]
    for name in git("ls-tree", "-r", "--name-only", commit, f"{chart_path}/templates/").split():
        if name.endswith((".yaml", ".tpl", ".txt", ".yml")):
            sources.append(git("show", f"{commit}:{name}"))
    for text in sources:
        lines = text.splitlines()
        for i, line in enumerate(lines):
            for m in VALUES_REF.finditer(line):
                parts = m.group(1)[1:].split(".")
                for n in range(1, len(parts) + 1):  # .Values.a.b.c reads a and a.b too
                    tree.setdefault(".".join(parts[:n]), "ref")
            for rx in WHOLE_MAP:
                for m in rx.finditer(line):
                    tree[m.group(1)[1:]] = "any"
            m = WITH_VALUES.search(line)
            if m and any("toYaml" in later for later in lines[i + 1:i + 4]):
                tree[m.group(1)[1:]] = "any"
    for path, kind in sorted(tree.items()):
        print(f"{prefix}{path} {kind}")
    return [], ""


def _split_key(path):
    """'a.b\\.c' -> ['a', 'b.c'] (helm --set escapes dots in keys with a backslash)."""
    return [p.replace("\0", ".") for p in path.replace("\\.", "\0").split(".")]


def deploy_sh_charts(deploy_sh):
    """name -> (chart, version, [values files], [--set keys]) for every upstream chart release."""
    text = open(deploy_sh).read()
    versions = dict(re.findall(r"\b([A-Z]+)_VERSION=(\S+)", text))
    charts = dict(re.findall(r"\b([A-Z]+)_CHART=(\S+)", text))
    out = {}
    joined = re.sub(r"\\\n\s*", " ", text)
    for m in re.finditer(r'^release (\S+) \S+ "\$([A-Z]+)_CHART"(.*)$', joined, re.M):
        name, var, rest = m.group(1), m.group(2), m.group(3)
        files = re.findall(r'"\$VALUES/([^"$]+?)(?:-\$ENV)?\.yaml"', rest)
        sets = re.findall(r'--set(?:-string)? "([^=]+)=', rest)
        out[name] = (charts[var].split("/")[-1], versions[var], sorted(set(files)), sets)
    return out


def check_upstream_keys(deploy_sh=None, values_dir=None):
    deploy_sh = deploy_sh or os.path.join(ROOT, "scripts", "deploy.sh")
    values_dir = values_dir or os.path.join(ROOT, "deploy", "helm", "values")
    fixtures = os.path.join(FIXTURES, "upstream-values")
    problems, checked = [], 0
    releases = deploy_sh_charts(deploy_sh)
    if not releases:
        return ["no upstream chart release found in " + deploy_sh], "0 keys"
    for name, (chart, version, prefixes, sets) in sorted(releases.items()):
        fixture = os.path.join(fixtures, f"{chart}-{version}.txt")
        if not os.path.exists(fixture):
            problems.append(f"{chart} {version} (deploy.sh) has no recorded key tree {os.path.relpath(fixture, ROOT)}: "
                            "record it with tests/deploy/record_upstream_values.sh from that chart release")
            continue
        tree = {}
        for line in open(fixture):
            if line.startswith("#") or not line.strip():
                continue
            path, kind = line.rstrip("\n").rsplit(" ", 1)
            tree[tuple(_split_key(path))] = kind

        def walk(node, path, where):
            nonlocal checked
            if not isinstance(node, dict):
                return
            for k, v in node.items():
                p = path + (str(k),)
                checked += 1
                kind = tree.get(p)
                if kind is None:
                    problems.append(f"{where}: {'.'.join(p)} is not a key of {chart} {version}")
                    continue
                if k in PASSTHROUGH_KEYS or kind in ("{}", "null", "list", "scalar", "any"):
                    if kind == "scalar" and isinstance(v, dict):
                        problems.append(f"{where}: {'.'.join(p)} is a map here but a value in {chart} {version}")
                    continue
                walk(v, p, where)

        files = [f for f in sorted(os.listdir(values_dir))
                 if any(f == pre + ".yaml" or (f.startswith(pre + "-") and f.endswith(".yaml")) for pre in prefixes)]
        for f in files:
            walk(yaml.safe_load(open(os.path.join(values_dir, f))), (), f"values/{f}")
        for key in sets:
            parts = tuple(_split_key(key))
            checked += 1
            # Found when the key or the free-form map above it is in the chart.
            if not any(parts[:i] in tree and (i == len(parts) or parts[i - 1] in PASSTHROUGH_KEYS
                                              or tree[parts[:i]] in ("{}", "null", "any"))
                       for i in range(1, len(parts) + 1)):
                problems.append(f"deploy.sh --set {key} ({name}) is not a key of {chart} {version}")
    return problems, f"{checked} keys of {len(releases)} upstream charts checked"


# ---- main ----------------------------------------------------------------------------------------
def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, rest = argv[1], argv[2:]
    if cmd == "flags":
        problems, summary = check_flags(rest)
    elif cmd == "refs":
        problems, summary = check_refs(*rest)
    elif cmd == "images":
        problems, summary = check_images(*rest)
    elif cmd == "scheduling":
        problems, summary = check_scheduling(*rest)
    elif cmd == "upstream-keys":
        problems, summary = check_upstream_keys(*rest)
    elif cmd == "chart-keys":
        chart_keys(*rest)
        return 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print(f"  {p}")
    print(f"{cmd}: {'FAIL' if problems else 'ok'} ({summary}, {len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
