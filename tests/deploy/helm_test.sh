#!/usr/bin/env bash
# Helm charts, offline: for every chart under deploy/helm/ (every folder with a Chart.yaml) and
# every environment (default, values-<env>.yaml) x variant (releases/*.yaml and ci/*.yaml):
#   helm lint --strict, helm template (twice), then tests/deploy/validate_manifests.mjs validates
#   every object against the Kubernetes / prometheus-operator schemas and the NodeOps policies.
# Then negative tests: a misspelled key fails the values schema, required secrets are enforced,
# and the validator itself catches what it claims to catch.
# Run from anywhere; exits non-zero on any failure; last line: "helm: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)

HELM=${HELM:-.tools/bin/helm}
[[ -x $HELM ]] || HELM=$(command -v helm || true)
if [[ -z $HELM ]] || ! command -v node >/dev/null; then
  echo "helm_test: helm or node missing; run scripts/bootstrap.sh" >&2
  echo "helm: 0 passed, 1 failed"
  exit 1
fi
export HELM_CACHE_HOME=${TMPDIR:-/tmp}/nodeops-helm-cache HELM_CONFIG_HOME=${TMPDIR:-/tmp}/nodeops-helm-config
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
ko() { failed=$((failed + 1)); echo "FAIL $*"; }
# run NAME CMD...: one test; prints the command's output only when it fails.
run() {
  local name=$1; shift
  if "$@" >"$OUT/log" 2>&1; then ok "$name"; else ko "$name"; sed 's/^/     /' "$OUT/log" | head -20; fi
}
# must_fail NAME PATTERN CMD...: the command must fail and say PATTERN.
must_fail() {
  local name=$1 pattern=$2; shift 2
  if "$@" >"$OUT/log" 2>&1; then
    ko "$name (succeeded; expected failure)"
  elif grep -Eq -- "$pattern" "$OUT/log"; then
    ok "$name"
  else
    ko "$name (failed without /$pattern/)"; sed 's/^/     /' "$OUT/log" | head -10
  fi
}

namespace_for() { # chart variant-file
  case $1 in
    blockchain-node) echo "nodes-$(sed -n 's/^chain: *//p' "$2" 2>/dev/null | head -1)" ;;
    nodeops-gateway) echo nodeops-system ;;
    nodeops-monitoring) echo monitoring ;;
    *) echo default ;;
  esac
}

# render_case N CHART DIR ENV VARIANT: lint, render (twice without an env file, for the secret
# check), check-config; results go to $OUT/case-N.result, output to $OUT/case-N.log.
render_case() {
  local n=$1 chart=$2 dir=$3 env=$4 variant=$5 args=() label release ns a b res="$OUT/case-$1.result"
  [[ -n $env ]] && args+=(-f "$env")
  [[ -n $variant ]] && args+=(-f "$variant")
  label="$chart env=$(basename "${env:-default}" .yaml | sed 's/^values-//') variant=$(basename "${variant:-default}" .yaml)"
  release=$chart
  [[ $variant == */releases/* ]] && release=$(basename "$variant" .yaml)
  ns=$(namespace_for "$chart" "$variant")
  [[ $ns == nodes- ]] && ns=nodes-ethereum
  : >"$res"
  if "$HELM" lint --strict "$dir" --namespace "$ns" "${args[@]}" >"$OUT/case-$n.lint" 2>&1; then
    echo "ok   lint $label" >>"$res"
  else
    { echo "FAIL lint $label"; sed 's/^/     /' "$OUT/case-$n.lint" | head -20; } >>"$res"
  fi
  a="$OUT/render-$n-a.yaml" b="$OUT/render-$n-b.yaml"
  if "$HELM" template "$release" "$dir" --namespace "$ns" "${args[@]}" >"$a" 2>"$OUT/case-$n.tpl"; then
    echo "ok   template $label" >>"$res"
    if [[ -z $env ]]; then "$HELM" template "$release" "$dir" --namespace "$ns" "${args[@]}" >"$b" 2>/dev/null; else b=$a; fi
    printf '{"name":"%s","files":["%s","%s"],"secretCheck":%s}\n' "$label" "$a" "$b" "$([[ -z $env ]] && echo true || echo false)" >"$OUT/case-$n.json"
    # The rendered gateway config must load in the real binary when one is built.
    local bin
    # The binary under test (ctest sets NODEOPS_BIN), else the release build: never another
    # build tree's binary, which may be older than the chart.
    bin=${NODEOPS_BIN:-build/release/nodeops}
    if [[ $chart == nodeops-gateway && -n $bin && -x $bin ]]; then
      python3 - "$a" "$OUT/gateway-$n.yaml" "$OUT/secrets-$n" <<'PY'
import os, subprocess, sys, yaml
# Files the pod gets from Secrets (provider credentials, the TLS pair) do not exist here: stand-ins
# under a folder of this case, at the same relative paths, so check-config reads real files
# (and loads a real certificate and key).
mounts = ("/var/run/secrets/nodeops-providers/", "/var/run/secrets/nodeops-tls/")
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "ConfigMap" and "gateway.yaml" in d.get("data", {}):
        text = d["data"]["gateway.yaml"]
        for mount in mounts:
            text = text.replace(mount, sys.argv[3] + mount)
        open(sys.argv[2], "w").write(text)
        for line in text.splitlines():
            _, _, path = line.partition("_file: ")
            if not path.startswith(sys.argv[3]) or os.path.exists(path):
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if path.endswith("tls.crt") or path.endswith("tls.key"):
                base = os.path.dirname(path)
                subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                                "/CN=gateway.example", "-keyout", base + "/tls.key", "-out", base + "/tls.crt"],
                               check=True, capture_output=True)
            elif "headers" in os.path.basename(path):
                open(path, "w").write("X-Api-Key: stand-in\n")
            else:
                open(path, "w").write("https://provider.example/v2/stand-in\n")
PY
      if "$bin" check-config "$OUT/gateway-$n.yaml" >"$OUT/case-$n.cc" 2>&1; then
        echo "ok   check-config $label" >>"$res"
      else
        { echo "FAIL check-config $label"; sed 's/^/     /' "$OUT/case-$n.cc" | head -20; } >>"$res"
      fi
    fi
  else
    { echo "FAIL template $label"; sed 's/^/     /' "$OUT/case-$n.tpl" | head -20; } >>"$res"
  fi
}

jobs_max=$(nproc 2>/dev/null || echo 2)
n=0
for dir in deploy/helm/*/; do
  dir=${dir%/}
  [[ -f $dir/Chart.yaml ]] || continue
  chart=$(basename "$dir")
  envs=("")
  for f in "$dir"/values-*.yaml; do [[ -f $f ]] && envs+=("$f"); done
  variants=()
  for f in "$dir"/releases/*.yaml "$dir"/ci/*.yaml; do [[ -f $f ]] && variants+=("$f"); done
  ((${#variants[@]})) || variants=("")
  for env in "${envs[@]}"; do
    for variant in "${variants[@]}"; do
      n=$((n + 1))
      while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n; done
      render_case "$n" "$chart" "$dir" "$env" "$variant" &
    done
  done
done
wait
for ((i = 1; i <= n; i++)); do
  while IFS= read -r line; do
    case $line in
      "ok   "*) passed=$((passed + 1)) ;;
      "FAIL "*) failed=$((failed + 1)) ;;
    esac
    echo "$line"
  done <"$OUT/case-$i.result"
done
cases="[$(cat "$OUT"/case-*.json 2>/dev/null | paste -sd, -)"

# ---- the deploy path: scripts/deploy.sh ENV --dry-run renders every release of ours ----
for env in dev staging prod; do
  if NODEOPS_RENDER_DIR="$OUT/deploy-$env" scripts/deploy.sh "$env" --dry-run >"$OUT/deploy-$env.log" 2>&1; then
    ok "scripts/deploy.sh $env --dry-run"
    cat "$OUT/deploy-$env"/*.yaml >"$OUT/deploy-$env.all.yaml"
    # Every pod of the environment (blue and green, HPAs at max, the upstream charts' pods from
    # their values) must fit the node groups Terraform declares, at their max size.
    run "scheduling: $env fits its node groups" python3 tests/deploy/deploy_checks.py scheduling "$env" "$OUT/deploy-$env"
    # Every StorageClass, Secret, ConfigMap, ServiceAccount, PriorityClass and IAM role a release
    # (or an upstream chart's values) names exists: rendered, from Terraform, or made by hand and
    # listed in deploy/required-secrets.txt (which deploy.sh checks on the cluster first).
    run "references: $env resolve" python3 tests/deploy/deploy_checks.py refs "$env" "$OUT/deploy-$env"
    cases+=",{\"name\":\"deploy.sh $env --dry-run (all releases)\",\"files\":[\"$OUT/deploy-$env.all.yaml\"],\"secretCheck\":false}"
  else
    ko "scripts/deploy.sh $env --dry-run"; sed 's/^/     /' "$OUT/deploy-$env.log" | tail -10
  fi
done
cases+="]"
echo "$cases" >"$OUT/cases.json"

# ---- schema validation and policies over every render ----
node tests/deploy/validate_manifests.mjs "$OUT/cases.json" >"$OUT/validate.log" 2>&1
vrc=$?
grep -v -e '^ok ' -e '^validate: ' "$OUT/validate.log" || true
summary=$(sed -n 's/^validate: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$OUT/validate.log")
if [[ -n $summary ]]; then
  read -r vp vf <<<"$summary"
  passed=$((passed + vp)); failed=$((failed + vf))
  echo "ok   validate: $vp cases schema- and policy-checked ($(sed -n 's/.*(\([0-9]* objects\)).*/\1/p' "$OUT/validate.log" | tail -1))"
fi
[[ $vrc -eq 0 || -n $summary ]] || ko "validate_manifests.mjs crashed (rc=$vrc)"
[[ $vrc -eq 0 ]] || [[ ${vf:-1} -gt 0 ]] || ko "validate_manifests.mjs exited $vrc"

BN=deploy/helm/blockchain-node GW=deploy/helm/nodeops-gateway CL=deploy/helm/cluster

# ---- client flags: every arg the charts pass exists in the pinned client's flag list ----
render_files=$(ls "$OUT"/render-*-a.yaml "$OUT"/deploy-*.all.yaml 2>/dev/null)
# shellcheck disable=SC2086
run "client args exist in the pinned clients' flag fixtures (tests/deploy/fixtures/client-flags)" \
  python3 tests/deploy/deploy_checks.py flags $render_files
"$HELM" template x "$BN" --set 'presets.ethereum.clients.geth.extraArgs={--http.vhost=*}' >"$OUT/badflag.yaml" 2>&1
must_fail "the flag check catches a misspelled client flag" "http.vhost is not a flag of geth" \
  python3 tests/deploy/deploy_checks.py flags "$OUT/badflag.yaml"
# Agave 4.x: a dynamic port range under 26 ports, or XDP (the default) without its capabilities,
# stops the validator at start.
"$HELM" template x "$BN" -f "$BN/releases/solana-blue.yaml" >"$OUT/agave.yaml" 2>&1
sed -e 's/--dynamic-port-range=8000-8030/--dynamic-port-range=8000-8020/' -e '/"--no-xdp"/d' "$OUT/agave.yaml" >"$OUT/badagave.yaml"
must_fail "the flag check catches Agave's narrow port range" "dynamic-port-range=8000-8020 is narrower than the 26 ports" \
  python3 tests/deploy/deploy_checks.py flags "$OUT/badagave.yaml"
must_fail "the flag check catches Agave's XDP without capabilities" "XDP is on by default from Agave 4.2" \
  python3 tests/deploy/deploy_checks.py flags "$OUT/badagave.yaml"

# ---- upstream charts: our values use only keys of the pinned chart releases ----
# The upstream charts are not rendered offline (no chart repository is reachable); their key trees,
# recorded from each pinned release's values.yaml and templates, stand in.
run "upstream chart values use only keys of the pinned releases (tests/deploy/fixtures/upstream-values)" \
  python3 tests/deploy/deploy_checks.py upstream-keys
cp -r deploy/helm/values "$OUT/upstream-values" && cp scripts/deploy.sh "$OUT/deploy.sh"
printf 'podSecurityContext:\n  runAsNonRoot: true\n' >>"$OUT/upstream-values/cluster-autoscaler.yaml"
must_fail "the upstream key check catches a key the chart does not have" \
  "values/cluster-autoscaler.yaml: podSecurityContext is not a key of cluster-autoscaler" \
  python3 tests/deploy/deploy_checks.py upstream-keys "$OUT/deploy.sh" "$OUT/upstream-values"
sed -i 's/ADAPTER_VERSION=[^ ]*/ADAPTER_VERSION=9.9.9/' "$OUT/deploy.sh"
must_fail "the upstream key check wants a recorded key tree for every pinned chart version" \
  "prometheus-adapter 9.9.9 \\(deploy.sh\\) has no recorded key tree" \
  python3 tests/deploy/deploy_checks.py upstream-keys "$OUT/deploy.sh"

# ---- scripts/deploy.sh for real, against stub tools (tests/deploy/fixtures/stub-tools) ----
# What it must do whatever the charts say: apply exactly the saved plan, touch one node pool per
# run, never auto-roll back a node release, and stop before installing anything when a required
# Secret is missing.
stub_run() { # LOG ARGS...: deploy.sh dev with the stubs; output in LOG.out, calls in LOG
  local log=$1; shift
  : >"$log"
  STUB_LOG=$log PATH="$PWD/tests/deploy/fixtures/stub-tools:$PATH" HELM=helm KUBECTL=kubectl TERRAFORM=terraform \
    scripts/deploy.sh dev "$@" >"$log.out" 2>&1
}
if stub_run "$OUT/stub.log" --auto-approve --pool blue; then
  plan=$(sed -n 's/.* plan .*-out=\([^ ]*\).*/\1/p' "$OUT/stub.log")
  if [[ -n $plan ]] && grep -q "apply -input=false $plan\$" "$OUT/stub.log"; then ok "deploy.sh applies the plan file it saved"
  else ko "deploy.sh applies the plan file it saved"; sed 's/^/     /' "$OUT/stub.log" | grep terraform; fi
  if grep -q 'upgrade --install ethereum-blue' "$OUT/stub.log" && ! grep -q 'upgrade --install [a-z]*-green' "$OUT/stub.log"; then
    ok "deploy.sh --pool blue upgrades the blue node releases only"
  else ko "deploy.sh --pool blue upgrades the blue node releases only"; fi
  if grep 'upgrade --install [a-z]*-blue ' "$OUT/stub.log" | grep -q -e '--rollback-on-failure' -e '--atomic'; then
    ko "node releases are never rolled back automatically"
  else ok "node releases are never rolled back automatically"; fi
else
  ko "deploy.sh dev against stub tools"; tail -5 "$OUT/stub.log.out" | sed 's/^/     /'
fi
stub_run "$OUT/stub2.log" --auto-approve
if ! grep -q 'upgrade --install [a-z]*-\(blue\|green\) ' "$OUT/stub2.log"; then ok "deploy.sh without --pool touches no node release"
else ko "deploy.sh without --pool touches no node release"; fi
if STUB_MISSING=heimdall-l1-rpc stub_run "$OUT/stub3.log" --auto-approve --skip-terraform --pool blue; then
  ko "deploy.sh stops on a missing required Secret (it succeeded)"
elif grep -q 'missing Secrets: nodes-polygon/heimdall-l1-rpc' "$OUT/stub3.log.out" && ! grep -q 'helm upgrade' "$OUT/stub3.log"; then
  ok "deploy.sh stops on a missing required Secret, before installing anything"
else ko "deploy.sh stops on a missing required Secret, before installing anything"; tail -3 "$OUT/stub3.log.out" | sed 's/^/     /'; fi

# ---- values.schema.json rejects typos ----
printf 'replicsa: 2\n' >"$OUT/typo-top.yaml"
for dir in deploy/helm/*/; do
  dir=${dir%/}
  [[ -f $dir/values.schema.json ]] || continue
  must_fail "schema rejects a misspelled top-level key in $(basename "$dir")" "additional properties 'replicsa' not allowed" \
    "$HELM" lint --strict "$dir" -f "$OUT/typo-top.yaml"
  must_fail "helm template rejects a misspelled top-level key in $(basename "$dir")" "replicsa" \
    "$HELM" template x "$dir" -f "$OUT/typo-top.yaml"
done
printf 'exporter:\n  maxlag: 3\n' >"$OUT/typo-bn.yaml"
must_fail "blockchain-node schema rejects exporter.maxlag (for maxLag)" "additional properties 'maxlag' not allowed" \
  "$HELM" template x "$BN" -f "$OUT/typo-bn.yaml"
printf 'presets:\n  ethereum:\n    clients:\n      geth:\n        resource: {}\n' >"$OUT/typo-bn2.yaml"
must_fail "blockchain-node schema rejects a misspelled client key (resource)" "additional properties 'resource' not allowed" \
  "$HELM" template x "$BN" -f "$OUT/typo-bn2.yaml"
must_fail "blockchain-node schema rejects an unpinned image (latest)" "image/tag" \
  "$HELM" template x "$BN" --set presets.ethereum.clients.geth.image.tag=latest
must_fail "blockchain-node schema rejects an unknown chain" "chain" \
  "$HELM" template x "$BN" --set chain=bitcoin
printf 'config:\n  chains:\n    - name: ethereum\n      type: evm\n      activepool: green\n      upstreams: [{name: a, url: "http://a:8545"}]\n' >"$OUT/typo-gw.yaml"
must_fail "gateway schema rejects config.chains[].activepool (for active_pool)" "additional properties 'activepool' not allowed" \
  "$HELM" template x "$GW" -f "$OUT/typo-gw.yaml"
printf 'config:\n  limits:\n    drain_timeout: 5s\n' >"$OUT/drain-gw.yaml"
must_fail "gateway schema refuses limits.drain_timeout (derived from gracefulShutdown)" "drain_timeout" \
  "$HELM" template x "$GW" -f "$OUT/drain-gw.yaml"
printf 'namespaces:\n  monitoring:\n    podSecurity: privileged\n    role: monitoring\n    egresAll: true\n' >"$OUT/typo-cl.yaml"
must_fail "cluster schema rejects namespaces.*.egresAll (for egressAll)" "egresAll" \
  "$HELM" template x "$CL" -f "$OUT/typo-cl.yaml"

# ---- required inputs and guard rails ----
must_fail "polygon without the L1 RPC Secret fails" "ethRpcUrl.existingSecret is required" \
  "$HELM" template x "$BN" --set chain=polygon
must_fail "snapshot enabled without a source fails" "snapshot.url or snapshot.s3Path" \
  "$HELM" template x "$BN" --set snapshot.enabled=true
must_fail "gateway Ingress without an ACM certificate fails" "certificateArn is required" \
  "$HELM" template x "$GW" --set ingress.enabled=true
printf 'config:\n  websocket:\n    ping_interval: 45s\n' >"$OUT/ws-ping-gw.yaml"
must_fail "gateway WebSocket pings slower than half the ALB idle timeout fail" "must be at most half of ingress.idleTimeoutSeconds" \
  "$HELM" template x "$GW" --set ingress.enabled=true --set ingress.certificateArn=arn:aws:acm:us-east-1:123456789012:certificate/abc -f "$OUT/ws-ping-gw.yaml"
must_fail "gateway keep-alive not above the ALB idle timeout fails" "must be longer than ingress.idleTimeoutSeconds" \
  "$HELM" template x "$GW" --set ingress.enabled=true --set ingress.certificateArn=arn:aws:acm:us-east-1:123456789012:certificate/abc --set config.limits.idle_timeout=60s
printf 'config:\n  websocket:\n    max_sendqueue: 1MiB\n' >"$OUT/typo-ws-gw.yaml"
must_fail "gateway schema rejects config.websocket.max_sendqueue (for max_send_queue)" "max_sendqueue" \
  "$HELM" template x "$GW" -f "$OUT/typo-ws-gw.yaml"
must_fail "gateway API keys without their Secret fail" "apiKeys.existingSecret is required" \
  "$HELM" template x "$GW" --set apiKeys.mode=required
must_fail "gateway schema refuses a provider URL in values without url or urlSecret" "oneOf|url" \
  "$HELM" template x "$GW" --set 'config.chains[0].name=eth' --set 'config.chains[0].type=evm' \
  --set 'config.chains[0].upstreams[0].name=p' --set 'config.chains[0].upstreams[0].tier=fallback'
must_fail "gateway schema refuses an upstream URL that is neither http(s) nor ws(s)" "pattern|does not match" \
  "$HELM" template x "$GW" --set 'config.chains[0].name=eth' --set 'config.chains[0].type=evm' \
  --set 'config.chains[0].upstreams[0].name=p' --set 'config.chains[0].upstreams[0].url=ftp://node:21'
run "gateway schema takes a node's WebSocket endpoint (wss://) as an upstream URL" "$HELM" template x "$GW" \
  --set 'config.chains[0].name=eth' --set 'config.chains[0].type=evm' \
  --set 'config.chains[0].upstreams[0].name=p' --set 'config.chains[0].upstreams[0].url=wss://node.example/ws'
must_fail "gateway schema rejects a urlSecret without its key" "key" \
  "$HELM" template x "$GW" --set 'config.chains[0].name=eth' --set 'config.chains[0].type=evm' \
  --set 'config.chains[0].upstreams[0].name=p' --set 'config.chains[0].upstreams[0].urlSecret.name=s'
# Provider credentials and the TLS pair come from the Secrets named in values, and nothing else.
"$HELM" template x "$GW" -f "$GW/ci/provider-tls-values.yaml" >"$OUT/provider-tls.yaml" 2>&1
run "gateway mounts provider Secrets and points url_file/headers_file at them" python3 - "$OUT/provider-tls.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
dep = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
cfg = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["gateway.yaml"])
vols = {v["name"]: v for v in dep["volumes"]}
mounts = {m["name"]: m["mountPath"] for m in dep["containers"][0]["volumeMounts"]}
secrets = {v["secret"]["secretName"]: mounts[n] for n, v in vols.items() if "secret" in v}
assert secrets["alchemy-ethereum"] == "/var/run/secrets/nodeops-providers/alchemy-ethereum", secrets
assert secrets["infura-ethereum"] == "/var/run/secrets/nodeops-providers/infura-ethereum", secrets
assert secrets["nodeops-gateway-tls"] == "/var/run/secrets/nodeops-tls", secrets
ups = {u["name"]: u for u in cfg["chains"][0]["upstreams"]}
assert ups["provider"]["url_file"] == "/var/run/secrets/nodeops-providers/alchemy-ethereum/url", ups
assert ups["provider"]["headers_file"] == "/var/run/secrets/nodeops-providers/alchemy-ethereum/headers", ups
assert "urlSecret" not in ups["provider"] and "url" not in ups["provider"], ups
assert cfg["tls"] == {"cert_file": "/var/run/secrets/nodeops-tls/tls.crt",
                      "key_file": "/var/run/secrets/nodeops-tls/tls.key", "reload_interval": "5s"}, cfg["tls"]
probes = [dep["containers"][0][p]["httpGet"]["scheme"] for p in ("startupProbe", "readinessProbe", "livenessProbe")]
assert probes == ["HTTPS"] * 3, probes
assert not any(isinstance(v, str) and v.startswith("https://") for u in ups.values() for v in u.values()), ups
PY
run "gateway without tls.existingSecret serves plain HTTP (probes, no TLS mount)" python3 - <("$HELM" template x "$GW") <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
dep = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
cfg = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["gateway.yaml"])
assert "tls" not in cfg
assert dep["containers"][0]["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
assert not any(v.get("name") == "tls" for v in dep["volumes"])
PY
must_fail "gateway schema rejects an unknown auth mode" "apiKeys" \
  "$HELM" template x "$GW" --set apiKeys.mode=on --set apiKeys.existingSecret=k
must_fail "gateway active_pool outside the declared pools fails" "active_pool \"purple\"" \
  "$HELM" template x "$GW" --set 'config.chains[0].name=ethereum' --set 'config.chains[0].type=evm' \
    --set 'config.chains[0].active_pool=purple' --set 'config.chains[0].upstreams[0].name=a' \
    --set 'config.chains[0].upstreams[0].url=http://a:8545' --set 'config.chains[0].upstreams[0].pool=blue'
# Rollouts across replicas: peers are every address of the headless admin Service, and no
# replica keeps state on its own disk (an emptyDir) that another replica would need.
"$HELM" template x "$GW" --namespace nodeops-system >"$OUT/fleet-gw.yaml" 2>/dev/null
run "gateway rollout.peers is the headless admin Service; no emptyDir state; peers may reach each other" \
  python3 - "$OUT/fleet-gw.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cfg = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["gateway.yaml"])
admin = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-admin"))
port = admin["spec"]["ports"][0]["port"]
assert admin["spec"]["clusterIP"] == "None", "the admin Service must be headless (one address per replica)"
want = f'{admin["metadata"]["name"]}.nodeops-system.svc.cluster.local:{port}'
assert cfg["rollout"]["peers"] == [want], (cfg.get("rollout"), want)
assert "state_file" not in cfg, "state_file: rollout state lives in the replicas"
pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
assert not [v for v in pod["volumes"] if "emptyDir" in v], pod["volumes"]
np = next(d for d in docs if d["kind"] == "NetworkPolicy")
sel = np["spec"]["podSelector"]["matchLabels"]
assert any({"podSelector": {"matchLabels": sel}} in r.get("from", []) and {"port": port, "protocol": "TCP"} in r["ports"]
           for r in np["spec"]["ingress"]), "admin port closed to the other replicas"
assert any({"podSelector": {"matchLabels": sel}} in r.get("to", []) and {"port": port, "protocol": "TCP"} in r["ports"]
           for r in np["spec"]["egress"]), "no egress to the other replicas' admin port"
PY
must_fail "gateway schema rejects rollout.syncinterval (for syncInterval)" "syncinterval" \
  "$HELM" template x "$GW" --set rollout.syncinterval=5s
# The JWT and admin token are generated: two renders differ (lookup keeps them on a live cluster).
j1=$("$HELM" template x "$BN" --show-only templates/secret-jwt.yaml 2>/dev/null | grep 'jwt.hex:')
j2=$("$HELM" template x "$BN" --show-only templates/secret-jwt.yaml 2>/dev/null | grep 'jwt.hex:')
if [[ -n $j1 && $j1 != "$j2" ]]; then ok "JWT secret is generated, never a default"; else ko "JWT secret is generated, never a default"; fi
if "$HELM" template x "$BN" --set presets.ethereum.jwt.existingSecret=my-jwt 2>/dev/null | grep -q 'kind: Secret'; then
  ko "existing JWT Secret: the chart renders no Secret"
else ok "existing JWT Secret: the chart renders no Secret"; fi

# ---- the snapshot-restore image carries every tool restore.sh runs (zstd, lz4, ...) ----
run "snapshot-restore image has every tool restore.sh runs" env HELM="$HELM" \
  python3 tests/deploy/deploy_checks.py images "$BN" deploy/images/snapshot-restore/Dockerfile
sed 's/ zstd lz4 / /' deploy/images/snapshot-restore/Dockerfile >"$OUT/Dockerfile.bad"
mkdir -p "$OUT/snapshot-restore" && mv "$OUT/Dockerfile.bad" "$OUT/snapshot-restore/Dockerfile"
must_fail "the image check catches a missing decompressor" "does not install zstd" \
  env HELM="$HELM" python3 tests/deploy/deploy_checks.py images "$BN" "$OUT/snapshot-restore/Dockerfile"

# ---- gateway config changes reload live by default; the checksum roll is opt-in ----
if "$HELM" template x "$GW" --show-only templates/deployment.yaml 2>&1 | grep -q 'checksum/config'; then
  ko "the gateway Deployment does not roll on a config change by default (live reload)"
else ok "the gateway Deployment does not roll on a config change by default (live reload)"; fi
if "$HELM" template x "$GW" --set restartOnConfigChange=true --show-only templates/deployment.yaml 2>&1 | grep -q 'checksum/config'; then
  ok "restartOnConfigChange=true puts the config checksum on the pods"
else ko "restartOnConfigChange=true puts the config checksum on the pods"; fi

# ---- the P2P address wrapper: @P2P_IP@ replaced in every argument, nothing else touched ----
"$HELM" template x "$BN" --set p2p.mode=hostNetwork --show-only templates/configmap.yaml 2>/dev/null |
  python3 -c 'import sys, yaml; open(sys.argv[1], "w").write(yaml.safe_load(sys.stdin)["data"]["with-p2p-address.sh"])' "$OUT/wrap.sh"
printf '203.0.113.7' >"$OUT/p2p-ip"
got=$(P2P_IP_FILE="$OUT/p2p-ip" sh "$OUT/wrap.sh" printf '%s|' --nat=extip:@P2P_IP@ '--p2p.external-address=@P2P_IP@:26656' 'a b' --port=30303 2>&1)
if [[ $got == "--nat=extip:203.0.113.7|--p2p.external-address=203.0.113.7:26656|a b|--port=30303|" ]]; then
  ok "with-p2p-address.sh substitutes the advertised address"
else ko "with-p2p-address.sh substitutes the advertised address (got: $got)"; fi
printf 'not-an-ip' >"$OUT/p2p-ip"
must_fail "with-p2p-address.sh refuses a malformed address" "bad address" \
  env P2P_IP_FILE="$OUT/p2p-ip" sh "$OUT/wrap.sh" true

# ---- the validator catches what it claims (bad manifests must fail) ----
cat >"$OUT/bad.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: t}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
        - name: c
          image: busybox
          readinessprobe: {httpGet: {path: /, port: 80}}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: t}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Namespace
metadata: {name: t}
EOF
echo "[{\"name\":\"bad\",\"files\":[\"$OUT/bad.yaml\",\"$OUT/bad.yaml\"]}]" >"$OUT/bad.json"
node tests/deploy/validate_manifests.mjs "$OUT/bad.json" >"$OUT/bad.log" 2>&1
for want in "unknown field spec.template.spec.containers\[0\].readinessprobe" "no requests.cpu" "not pinned by tag" \
            "runAsNonRoot is not true" "allowPrivilegeEscalation is not false" "no PodDisruptionBudget" \
            "stringData holds a literal" "no default-deny NetworkPolicy"; do
  if grep -q -- "$want" "$OUT/bad.log"; then ok "validator catches: $want"; else ko "validator catches: $want"; sed 's/^/     /' "$OUT/bad.log" | head; fi
done

echo "helm: $passed passed, $failed failed ($(($(date +%s) - start))s)"
((failed == 0))
