#!/usr/bin/env node
// Validates `helm template` output: every object against the Kubernetes (and prometheus-operator)
// schemas with unknown fields rejected, then the NodeOps policies below. Offline.
//
//   node tests/deploy/validate_manifests.mjs CASES.json
//
// CASES.json: [{"name": "...", "files": ["render-1.yaml", "render-2.yaml"], "secretCheck": true}].
// A case with secretCheck is rendered twice with the same inputs: a Secret value identical in both
// renders came from a literal in the chart or its values (a default secret), which is refused.
//
// Policies (docs: deploy/helm/README.md, "What the tests check"):
//  - every container (init and sidecars included) has cpu and memory requests and limits;
//  - every container runs non-root, without privilege escalation, drops ALL capabilities, with a
//    RuntimeDefault seccomp profile; a pod may list a container (or `pod` for hostNetwork) in its
//    `nodeops.io/security-exceptions` annotation with the reason, and only then deviate;
//  - images carry a tag that is not `latest`;
//  - node pods (app.kubernetes.io/name=blockchain-node) run the nodeops exporter and every client
//    container's readiness/liveness probes are HTTP checks of the exporter's /ready and /live;
//  - node RPC and exporter ports are never in an ingress rule open to everyone;
//  - every Deployment/StatefulSet has a PodDisruptionBudget selecting its pods;
//  - every Namespace has a default-deny NetworkPolicy (Ingress+Egress, no rules) and a Pod Security
//    enforce label;
//  - no Secret carries a literal credential (stringData, or a credential-like key or value that is
//    identical across two renders);
//  - the gateway: Ingress backends never reach the admin port, the ALB health check is /readyz,
//    and terminationGracePeriodSeconds covers preStop + drain_timeout.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SchemaRegistry } from "./k8s_schema.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const nodeModules = process.env.NODEOPS_NODE_MODULES ?? path.join(root, ".tools/node_modules");

// ---- YAML: the `yaml` package bundled with aws-cdk-lib (installed with the kubectl layer), else
// python3-yaml (a bootstrap apt package) as a converter. ----
function yamlParser() {
  const require = createRequire(path.join(nodeModules, "noop.js"));
  for (const id of ["yaml", "aws-cdk-lib/node_modules/yaml"]) {
    try {
      const YAML = require(id);
      return (text) => YAML.parseAllDocuments(text, { version: "1.1" }).map((d) => {
        if (d.errors.length) throw new Error(d.errors[0].message);
        return d.toJSON();
      });
    } catch { /* try the next one */ }
  }
  return (text) => {
    const py = "import sys,json,yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)";
    const r = spawnSync("python3", ["-c", py], { input: text, encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`python3 yaml: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
}
const parseYaml = yamlParser();

const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"]);

function podSpecOf(o) {
  if (o.kind === "Pod") return { meta: o.metadata ?? {}, spec: o.spec ?? {} };
  if (o.kind === "CronJob") return { meta: o.spec?.jobTemplate?.spec?.template?.metadata ?? {}, spec: o.spec?.jobTemplate?.spec?.template?.spec ?? {} };
  return { meta: o.spec?.template?.metadata ?? {}, spec: o.spec?.template?.spec ?? {} };
}

function exceptionsOf(meta) {
  const raw = meta.annotations?.["nodeops.io/security-exceptions"] ?? "";
  return new Set(raw.split(";").map((s) => s.split(":")[0].trim()).filter(Boolean));
}

function matches(selector, labels) {
  if (!selector) return false;
  const ml = selector.matchLabels ?? {};
  if (!Object.keys(ml).length && !(selector.matchExpressions ?? []).length) return false;
  for (const [k, v] of Object.entries(ml)) if (labels?.[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Boolean(labels) && e.key in labels;
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

const id = (o) => `${o.kind}/${o.metadata?.namespace ? o.metadata.namespace + "/" : ""}${o.metadata?.name}`;
const durSeconds = (s) => {
  const m = String(s ?? "").match(/^(\d+)(ms|s|m|h)$/);
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
};

function checkContainers(o, fail) {
  const { meta, spec } = podSpecOf(o);
  const exc = exceptionsOf(meta);
  const podSc = spec.securityContext ?? {};
  if (spec.hostNetwork && !exc.has("pod")) fail(`${id(o)}: hostNetwork without a documented exception`);
  for (const f of ["hostPID", "hostIPC"]) if (spec[f] && !exc.has("pod")) fail(`${id(o)}: ${f} without a documented exception`);
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const c of all) {
    const where = `${id(o)} container ${c.name}`;
    for (const kind of ["requests", "limits"]) {
      for (const r of ["cpu", "memory"]) {
        if (c.resources?.[kind]?.[r] === undefined) fail(`${where}: no ${kind}.${r}`);
      }
    }
    const image = String(c.image ?? "");
    const tag = image.includes("@sha256:") ? "digest" : image.split("/").pop().split(":")[1];
    if (!tag || tag === "latest") fail(`${where}: image ${image} is not pinned by tag`);
    if (exc.has(c.name)) continue; // documented in the pod's nodeops.io/security-exceptions
    const sc = c.securityContext ?? {};
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    const uid = sc.runAsUser ?? podSc.runAsUser;
    if (nonRoot !== true) fail(`${where}: runAsNonRoot is not true`);
    if (uid === 0) fail(`${where}: runs as UID 0`);
    if (sc.privileged) fail(`${where}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) fail(`${where}: allowPrivilegeEscalation is not false`);
    const drop = sc.capabilities?.drop ?? [];
    if (!drop.includes("ALL")) fail(`${where}: capabilities do not drop ALL`);
    if ((sc.capabilities?.add ?? []).length) fail(`${where}: adds capabilities ${sc.capabilities.add}`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (!["RuntimeDefault", "Localhost"].includes(seccomp)) fail(`${where}: seccompProfile is not RuntimeDefault`);
  }
}

function checkNodePod(o, objs, fail) {
  const { meta, spec } = podSpecOf(o);
  if (meta.labels?.["app.kubernetes.io/name"] !== "blockchain-node") return;
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const exporter = all.find((c) => (c.args ?? [])[0] === "exporter");
  if (!exporter) return fail(`${id(o)}: no nodeops exporter sidecar`);
  if (!/nodeops/.test(exporter.image)) fail(`${id(o)}: exporter image ${exporter.image} is not the nodeops image`);
  const exporterPort = (exporter.ports ?? [])[0]?.containerPort;
  if (!exporterPort) fail(`${id(o)}: exporter has no port`);
  const clients = spec.containers.filter((c) => c !== exporter);
  if (!clients.length) fail(`${id(o)}: no client containers`);
  for (const c of clients) {
    for (const [probe, p] of [["readinessProbe", "/ready"], ["livenessProbe", "/live"], ["startupProbe", "/live"]]) {
      const g = c[probe]?.httpGet;
      if (!g) { fail(`${id(o)} container ${c.name}: ${probe} is not an HTTP check of the exporter`); continue; }
      if (!String(g.path).startsWith(p)) fail(`${id(o)} container ${c.name}: ${probe} path ${g.path}, want ${p}`);
      if (g.port !== exporterPort && g.port !== "metrics") fail(`${id(o)} container ${c.name}: ${probe} port ${g.port} is not the exporter's ${exporterPort}`);
    }
  }
  // RPC and exporter ports must not be in an ingress rule without `from`.
  const closed = new Set([exporterPort]);
  for (const c of clients) for (const p of c.ports ?? []) if (/^(rpc|ws|rpc-ws)$/.test(p.name)) closed.add(p.containerPort);
  const pols = objs.filter((x) => x.kind === "NetworkPolicy" && (x.metadata?.namespace ?? "") === (o.metadata?.namespace ?? "") && matches(x.spec?.podSelector, meta.labels));
  for (const np of pols) {
    for (const rule of np.spec?.ingress ?? []) {
      if (rule.from && rule.from.length) continue;
      const open = (rule.ports ?? []).map((p) => p.port);
      if (!rule.ports) fail(`${id(np)}: an ingress rule opens every port of node pods to everyone`);
      for (const p of open) if (closed.has(p)) fail(`${id(np)}: port ${p} (RPC/metrics) is open to everyone`);
    }
  }
}

function checkPdb(o, objs, fail) {
  if (!["Deployment", "StatefulSet"].includes(o.kind)) return;
  const labels = o.spec?.template?.metadata?.labels ?? {};
  const ns = o.metadata?.namespace ?? "";
  const ok = objs.some((x) => x.kind === "PodDisruptionBudget" && (x.metadata?.namespace ?? "") === ns && matches(x.spec?.selector, labels));
  if (!ok) fail(`${id(o)}: no PodDisruptionBudget selects its pods`);
}

function checkNamespace(o, objs, fail) {
  if (o.kind !== "Namespace") return;
  const name = o.metadata.name;
  const deny = objs.some((x) => x.kind === "NetworkPolicy" && x.metadata?.namespace === name &&
    x.spec?.podSelector && !Object.keys(x.spec.podSelector.matchLabels ?? {}).length && !(x.spec.podSelector.matchExpressions ?? []).length &&
    (x.spec.policyTypes ?? []).includes("Ingress") && (x.spec.policyTypes ?? []).includes("Egress") &&
    !(x.spec.ingress ?? []).length && !(x.spec.egress ?? []).length);
  if (!deny) fail(`${id(o)}: no default-deny NetworkPolicy`);
  if (!o.metadata.labels?.["pod-security.kubernetes.io/enforce"]) fail(`${id(o)}: no pod-security.kubernetes.io/enforce label`);
}

function checkGateway(objs, fail) {
  for (const ing of objs.filter((x) => x.kind === "Ingress")) {
    const a = ing.metadata?.annotations ?? {};
    if ((ing.spec?.ingressClassName ?? "") === "alb") {
      if (a["alb.ingress.kubernetes.io/healthcheck-path"] !== "/readyz") fail(`${id(ing)}: ALB health check is not /readyz`);
      if (!a["alb.ingress.kubernetes.io/certificate-arn"]) fail(`${id(ing)}: no ACM certificate`);
    }
    const backends = [];
    for (const r of ing.spec?.rules ?? []) for (const p of r.http?.paths ?? []) backends.push(p.backend?.service);
    if (ing.spec?.defaultBackend?.service) backends.push(ing.spec.defaultBackend.service);
    for (const b of backends.filter(Boolean)) {
      if (b.port?.name === "admin" || b.port?.number === 9100) fail(`${id(ing)}: backend reaches the admin port`);
      const svc = objs.find((x) => x.kind === "Service" && x.metadata?.name === b.name && (x.metadata?.namespace ?? "") === (ing.metadata?.namespace ?? ""));
      if (!svc) { fail(`${id(ing)}: backend Service ${b.name} is not rendered`); continue; }
      for (const p of svc.spec?.ports ?? []) {
        if (p.name === "admin" || p.port === 9100 || p.targetPort === "admin" || p.targetPort === 9100) fail(`${id(svc)}: the ALB's Service exposes the admin port`);
      }
    }
  }
  for (const d of objs.filter((x) => x.kind === "Deployment" && x.spec?.template?.metadata?.labels?.["app.kubernetes.io/component"] === "gateway")) {
    const spec = d.spec.template.spec;
    const c = spec.containers.find((x) => x.name === "gateway");
    const cmName = (spec.volumes ?? []).find((v) => v.name === "config")?.configMap?.name;
    const cm = objs.find((x) => x.kind === "ConfigMap" && x.metadata?.name === cmName);
    if (!cm) { fail(`${id(d)}: config ConfigMap ${cmName} not rendered`); continue; }
    const cfg = parseYaml(cm.data["gateway.yaml"])[0];
    const drain = durSeconds(cfg.limits?.drain_timeout ?? "20s");
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    if (!(grace > preStop + drain)) fail(`${id(d)}: terminationGracePeriodSeconds ${grace} <= preStop ${preStop} + drain ${drain}`);
    if (cfg.admin_token_file) {
      const mounted = (c.volumeMounts ?? []).some((m) => cfg.admin_token_file.startsWith(m.mountPath + "/") &&
        (spec.volumes ?? []).some((v) => v.name === m.name && v.secret));
      if (!mounted) fail(`${id(d)}: admin_token_file ${cfg.admin_token_file} is not mounted from a Secret`);
    }
    for (const ch of cfg.chains ?? []) {
      const pools = new Set((ch.upstreams ?? []).map((u) => u.pool ?? "default"));
      if (!pools.has(ch.active_pool ?? "default")) fail(`${id(cm)}: chain ${ch.name} active_pool ${ch.active_pool} has no upstreams`);
    }
  }
}

function checkSecrets(renders, fail) {
  const [a, b] = renders;
  const key = (o) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
  const secretsB = new Map(b.filter((o) => o.kind === "Secret").map((o) => [key(o), o]));
  for (const s of a.filter((o) => o.kind === "Secret")) {
    if (s.stringData && Object.keys(s.stringData).length) fail(`${id(s)}: stringData holds a literal value`);
    const other = secretsB.get(key(s));
    for (const [k, v] of Object.entries(s.data ?? {})) {
      if (!other || other.data?.[k] !== v) continue;
      // Deterministic content is fine for rendered config (an Alertmanager config file); a
      // credential is recognised by its key name or its shape.
      const text = Buffer.from(String(v), "base64").toString("utf8");
      const credentialKey = /(token|secret|passw|jwt|key|cred|auth|private|\.hex$|apikey|url$)/i.test(k);
      const credentialShape = /^(0x)?[0-9a-f]{32,}$/i.test(text.trim()) || /-----BEGIN/.test(text) || /^\[?\s*\d+\s*(,\s*\d+\s*){31,}\]?$/.test(text.trim());
      if (credentialKey || credentialShape) fail(`${id(s)}: key ${k} is the same in every render (a literal default secret)`);
    }
  }
}

async function main() {
  const casesFile = process.argv[2];
  if (!casesFile) { console.error("usage: validate_manifests.mjs CASES.json"); process.exit(2); }
  const cases = JSON.parse(fs.readFileSync(casesFile, "utf8"));
  const registry = new SchemaRegistry(nodeModules);
  let objects = 0, failedCases = 0;
  for (const c of cases) {
    const errors = [];
    const fail = (m) => errors.push(m);
    let renders;
    try {
      renders = c.files.map((f) => parseYaml(fs.readFileSync(f, "utf8")).filter((o) => o && typeof o === "object"));
    } catch (e) {
      fail(`YAML: ${e.message}`);
      renders = [[], []];
    }
    const objs = renders[0];
    for (const o of objs) {
      objects++;
      for (const e of await registry.validate(o)) fail(`${id(o)}: ${e}`);
      if (WORKLOADS.has(o.kind)) {
        checkContainers(o, fail);
        checkNodePod(o, objs, fail);
        checkPdb(o, objs, fail);
      }
      checkNamespace(o, objs, fail);
    }
    checkGateway(objs, fail);
    if (renders.length > 1 && c.secretCheck !== false) checkSecrets(renders, fail);
    if (errors.length) {
      failedCases++;
      console.log(`FAIL validate ${c.name}`);
      for (const e of [...new Set(errors)]) console.log(`     ${e}`);
    } else {
      console.log(`ok   validate ${c.name} (${objs.length} objects)`);
    }
  }
  console.log(`validate: ${cases.length - failedCases} passed, ${failedCases} failed (${objects} objects)`);
  process.exit(failedCases ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(2); });
