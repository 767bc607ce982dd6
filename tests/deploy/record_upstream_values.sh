#!/usr/bin/env bash
# Records the key tree of every upstream chart scripts/deploy.sh pins, at the exact chart release,
# into tests/deploy/fixtures/upstream-values/<chart>-<version>.txt: a header naming the repository,
# ref, commit and path it came from, then one line per key path (values.yaml's keys with the kind of
# their default, plus the .Values paths the templates read). Key names only: data about the chart,
# not its text. `deploy_checks.py upstream-keys` then checks that our deploy/helm/values/<chart>*.yaml and
# deploy.sh's --set keys exist in it.
#
# Usage: tests/deploy/record_upstream_values.sh MIRROR_ROOT
# MIRROR_ROOT holds bare clones named owner+name/repo (as the `fetch` tool lays them out):
# kubernetes+autoscaler, prometheus-community+helm-charts, aws+eks-charts, grafana+loki,
# grafana+alloy. Run it again after moving a pin in scripts/deploy.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
MIRRORS=${1:?usage: $0 MIRROR_ROOT}
OUT=tests/deploy/fixtures/upstream-values
mkdir -p "$OUT"

version_of() { sed -n "s/.*$1_VERSION=\([^ ]*\).*/\1/p" scripts/deploy.sh | head -1; }

# keys REPO REF CHART_DIR VERSION [PREFIX]: the "# source" line and key lines of one chart.
keys() {
  local repo=$1 ref=$2 dir=$3 version=$4 prefix=${5:-} git commit
  git="$MIRRORS/${repo/\//+}/repo"
  commit=$(git --git-dir "$git" rev-parse "$ref^{commit}")
  # The chart's Chart.yaml must carry the pinned version, or the ref is wrong.
  git --git-dir "$git" show "$commit:$dir/Chart.yaml" | grep -q "^version: \"\?$version\"\?\$" ||
    { echo "$repo $ref: $dir/Chart.yaml is not version $version" >&2; exit 1; }
  echo "# source${prefix:+ (subchart ${prefix%.})}: github.com/$repo ref $ref commit $commit path $dir (values.yaml and templates/)"
  python3 tests/deploy/deploy_checks.py chart-keys "$git" "$commit" "$dir" "$prefix" | sed 's/^/KEY /'
}

# record CHART VERSION REPO REF CHART_DIR [SUBCHART_ALIAS SUB_REPO SUB_REF SUB_DIR SUB_VERSION]...
record() {
  local chart=$1 version=$2 repo=$3 ref=$4 dir=$5 out
  shift 5
  out="$OUT/$chart-$version.txt"
  {
    echo "# chart: $chart $version"
    echo "# recorded by tests/deploy/record_upstream_values.sh: key paths and the kind of their default"
    echo "# (map, {}, list, scalar, null; ref: read by a template; any: a map a template renders whole)"
    keys "$repo" "$ref" "$dir" "$version"
    while (($#)); do keys "$2" "$3" "$4" "$5" "$1."; shift 5; done
  } >"$out.tmp"
  # Headers first, then the keys sorted, so a re-recording diffs by key.
  { grep '^#' "$out.tmp"; grep '^KEY ' "$out.tmp" | sed 's/^KEY //' | sort -u; } >"$out"
  rm -f "$out.tmp"
  echo "recorded $out"
}

# The commit of eks-charts whose Chart.yaml first has the version (the repository has no chart tags).
eks_commit() {
  local git="$MIRRORS/aws+eks-charts/repo"
  git --git-dir "$git" log --reverse --format=%H -G"^version: $1\$" master -- \
    stable/aws-load-balancer-controller/Chart.yaml | head -1
}

v=$(version_of CA);        record cluster-autoscaler "$v" kubernetes/autoscaler "cluster-autoscaler-chart-$v" charts/cluster-autoscaler
v=$(version_of ADAPTER);   record prometheus-adapter "$v" prometheus-community/helm-charts "prometheus-adapter-$v" charts/prometheus-adapter
v=$(version_of BLACKBOX);  record prometheus-blackbox-exporter "$v" prometheus-community/helm-charts "prometheus-blackbox-exporter-$v" charts/prometheus-blackbox-exporter
# kube-prometheus-stack: our values also set its grafana subchart (the version its Chart.yaml names).
v=$(version_of KPS)
g=$(git --git-dir "$MIRRORS/prometheus-community+helm-charts/repo" show "kube-prometheus-stack-$v:charts/kube-prometheus-stack/Chart.yaml" |
  awk '/- name: grafana/{f=1} f&&/version:/{gsub(/"/,"",$2); print $2; exit}')
record kube-prometheus-stack "$v" prometheus-community/helm-charts "kube-prometheus-stack-$v" charts/kube-prometheus-stack \
  grafana grafana/helm-charts "grafana-$g" charts/grafana "$g"
v=$(version_of LOKI);      record loki "$v" grafana/loki "helm-loki-$v" production/helm/loki
v=$(version_of ALLOY);     record alloy "$v" grafana/alloy "helm-chart/$v" operations/helm/charts/alloy
v=$(version_of ALB)
ref=$(eks_commit "$v")
[[ -n $ref ]] || { echo "aws/eks-charts: no commit with aws-load-balancer-controller version $v" >&2; exit 1; }
record aws-load-balancer-controller "$v" aws/eks-charts "$ref" stable/aws-load-balancer-controller
