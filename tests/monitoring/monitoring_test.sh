#!/usr/bin/env bash
# Monitoring as code, offline: everything in monitoring/ that can be checked without Grafana,
# Loki or Alloy running (docs/monitoring.md, "What is tested").
#   promtool check rules / test rules, the rule lint (annotations, runbooks, fire+silent tests,
#   metric contract), amtool check-config and routes tests, Alertmanager consistency and live
#   inhibition, the blackbox modules, dashboards (built from build.py, structure, every PromQL parses), Alloy, the
#   Helm chart carrying monitoring/ without a copy, the PromQL extractor's unit tests.
# The metric-existence test against the running binaries is tests/monitoring/test_metrics_exist.py.
# Run from anywhere; last line: "monitoring: N passed, M failed"; exit status 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
export HELM=${HELM:-$PWD/.tools/bin/helm}
passed=0
failed=0
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

# run NAME CMD...: one test; prints the command's output only when it fails.
run() {
  local name=$1; shift
  if "$@" >"$LOG" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$LOG" | head -40
  fi
}
# must_fail NAME CMD...: the command must fail (the check catches what it claims to catch).
must_fail() {
  local name=$1; shift
  if "$@" >"$LOG" 2>&1; then
    failed=$((failed + 1)); echo "FAIL $name (succeeded; expected failure)"
  else
    passed=$((passed + 1)); echo "ok   $name"
  fi
}

for tool in promtool amtool; do
  if ! command -v $tool >/dev/null; then
    echo "monitoring_test: $tool missing; run scripts/bootstrap.sh" >&2
    echo "monitoring: 0 passed, 1 failed"
    exit 1
  fi
done

# ---- rules
run "promtool check rules" promtool check rules monitoring/rules/*.rules.yml
for t in monitoring/rules/tests/*.test.yml; do
  run "promtool test rules $(basename "$t")" promtool test rules "$t"
done
run "rule lint (annotations, runbooks, fire+silent tests, metric contract)" $PY tests/monitoring/check_rules.py
# The local stack loads every rules file but kubernetes.rules.yml: that set must stand alone.
local_rules=()
for f in monitoring/rules/*.rules.yml; do [[ $(basename "$f") == kubernetes.rules.yml ]] || local_rules+=("$f"); done
run "local-stack rule set loads without kubernetes.rules.yml" promtool check rules "${local_rules[@]}"

# ---- alertmanager
run "amtool check-config alertmanager.yml" amtool check-config monitoring/alertmanager/alertmanager.yml
run "amtool check-config local.yml" amtool check-config monitoring/alertmanager/local.yml
for cfg in alertmanager.yml local.yml; do
  while read -r receivers labels; do
    [[ -z $receivers || $receivers == \#* ]] && continue
    # shellcheck disable=SC2086  # labels are separate words on purpose
    run "routes $cfg: $labels -> $receivers" amtool config routes test \
      --config.file="monitoring/alertmanager/$cfg" --verify.receivers="$receivers" $labels
  done <monitoring/alertmanager/tests/routes.txt
done
must_fail "routes test catches a wrong receiver" amtool config routes test \
  --config.file=monitoring/alertmanager/alertmanager.yml --verify.receivers=low-priority severity=critical
run "alertmanager consistency, no literal secrets, live inhibition" $PY tests/monitoring/check_alertmanager.py

# ---- dashboards, alloy, chart
run "dashboards are what build.py writes" $PY monitoring/dashboards/build.py --check
run "dashboards: structure, datasources, PromQL parses, LogQL documented" $PY tests/monitoring/check_dashboards.py
run "alloy config structure, DaemonSet storage and tolerations" $PY tests/monitoring/check_alloy.py
if command -v prometheus-blackbox-exporter >/dev/null; then
  run "blackbox modules load" prometheus-blackbox-exporter --config.check --config.file=monitoring/blackbox/blackbox.yml
else
  failed=$((failed + 1)); echo "FAIL prometheus-blackbox-exporter missing; run scripts/bootstrap.sh"
fi
if [[ -x $HELM ]]; then
  run "helm chart carries monitoring/ (symlinks, rendered content equal)" $PY tests/monitoring/check_chart.py
  for env in "" dev staging prod; do
    args=(); [[ -n $env ]] && args=(-f "deploy/helm/nodeops-monitoring/values-$env.yaml")
    run "helm lint --strict nodeops-monitoring ${env:-default}" "$HELM" lint --strict \
      deploy/helm/nodeops-monitoring --namespace monitoring "${args[@]}"
  done
  tmp=$(mktemp -d)
  printf 'rules:\n  enabeld: true\n' >"$tmp/typo.yaml"
  must_fail "values schema rejects an unknown key" "$HELM" template x deploy/helm/nodeops-monitoring -f "$tmp/typo.yaml"
  rm -rf "$tmp"
else
  failed=$((failed + 1)); echo "FAIL helm missing at $HELM; run scripts/bootstrap.sh"
fi

# ---- the checks catch what they claim (a broken copy of the inputs must fail)
tmp=$(mktemp -d)
printf 'groups:\n  - name: broken\n    rules:\n      - record: x\n        expr: sum by (chain (up)\n' >"$tmp/broken.rules.yml"
must_fail "promtool rejects an expression that does not parse" promtool check rules "$tmp/broken.rules.yml"
rm -rf "$tmp"

# ---- extractor unit tests (the metric-existence test's own logic)
run "PromQL extractor unit tests" $PY -m pytest -q -p no:cacheprovider tests/monitoring/test_promql_extract.py

echo "monitoring: $passed passed, $failed failed"
((failed == 0))
