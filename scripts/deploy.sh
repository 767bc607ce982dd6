#!/usr/bin/env bash
# Deploy one environment: Terraform, kubeconfig, then every Helm release in order, each with
# rollback on failure.
#
#   scripts/deploy.sh ENV [--dry-run] [--auto-approve] [--skip-terraform] [--only RELEASE]
#                         [--set KEY=VALUE ...]
#
#   ENV               dev | staging | prod (deploy/terraform/envs/ENV, deploy/helm/**/values-ENV.yaml)
#   --dry-run         no cloud, no cluster: render every chart of ours with `helm template` into
#                     $NODEOPS_RENDER_DIR (default build/deploy/ENV) and check the upstream charts'
#                     values files parse; Terraform outputs are placeholders
#   --auto-approve    pass -auto-approve to `terraform apply` (CI); otherwise Terraform asks
#   --skip-terraform  use the existing state's outputs (Helm-only change)
#   --only RELEASE    deploy just this release (e.g. ethereum-green, nodeops-gateway); with --set,
#                     this is how a canary partition is moved (docs/deployments.md)
#   --set KEY=VALUE   extra value for the --only release
#
# Order: nodeops-cluster (namespaces, RBAC, default-deny, StorageClass, PriorityClasses) ->
# aws-load-balancer-controller -> kube-prometheus-stack, loki, alloy, nodeops-monitoring (CRDs
# and Prometheus before any ServiceMonitor) -> blockchain-node releases (<chain>-blue,
# <chain>-green) -> nodeops-gateway.
#
# Rollback: every upgrade runs with --rollback-on-failure (Helm 4; waits with the watcher). A node
# release's first install does not wait — its pods become Ready only once synced, which takes
# hours — but every later upgrade waits for the updated pods to be Ready (synced again) and
# rolls back if they are not within NODEOPS_NODE_TIMEOUT.
#
# Environment: NODEOPS_CHAINS (default: dev "ethereum polygon", else "ethereum polygon solana"),
# NODEOPS_ACM_CERTIFICATE_ARN (the ALB's certificate; else Terraform output helm.acm_certificate_arn),
# NODEOPS_NODE_TIMEOUT (45m), NODEOPS_TIMEOUT (10m), HELM, TERRAFORM.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

ENV=${1:-}
[[ $ENV =~ ^(dev|staging|prod)$ ]] || usage
shift
DRY_RUN=0 AUTO_APPROVE=0 SKIP_TF=0 ONLY="" EXTRA_SET=()
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --auto-approve) AUTO_APPROVE=1 ;;
    --skip-terraform) SKIP_TF=1 ;;
    --only) ONLY=${2:?--only needs a release}; shift ;;
    --set) EXTRA_SET+=(--set "${2:?--set needs KEY=VALUE}"); shift ;;
    -h|--help) usage 0 ;;
    *) echo "deploy: unknown argument $1" >&2; usage ;;
  esac
  shift
done

HELM=${HELM:-$( [[ -x .tools/bin/helm ]] && echo .tools/bin/helm || command -v helm || true)}
TERRAFORM=${TERRAFORM:-terraform}
[[ -n $HELM ]] || { echo "deploy: helm not found (scripts/bootstrap.sh installs it)" >&2; exit 1; }
TIMEOUT=${NODEOPS_TIMEOUT:-10m}
NODE_TIMEOUT=${NODEOPS_NODE_TIMEOUT:-45m}
if [[ -n ${NODEOPS_CHAINS:-} ]]; then read -r -a CHAINS <<<"$NODEOPS_CHAINS"
elif [[ $ENV == dev ]]; then CHAINS=(ethereum polygon)
else CHAINS=(ethereum polygon solana); fi
POOLS=(blue green)
H=deploy/helm
VALUES=deploy/helm/values
RENDER_DIR=${NODEOPS_RENDER_DIR:-build/deploy/$ENV}

# Upstream charts, from their own repositories at deploy time, pinned.
ALB_CHART=eks/aws-load-balancer-controller ALB_VERSION=1.13.4
KPS_CHART=prometheus-community/kube-prometheus-stack KPS_VERSION=75.15.1
LOKI_CHART=grafana/loki LOKI_VERSION=6.33.0
ALLOY_CHART=grafana/alloy ALLOY_VERSION=1.2.0

log() { printf '{"ts":"%s","level":"info","msg":"deploy: %s","env":"%s"}\n' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$*" "$ENV" >&2; }
die() { printf '{"ts":"%s","level":"error","msg":"deploy: %s","env":"%s"}\n' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$*" "$ENV" >&2; exit 1; }

# ---- 1. Terraform ---------------------------------------------------------------------------
TF_DIR=deploy/terraform/envs/$ENV
declare -A OUT=()
if ((DRY_RUN)); then
  OUT=([region]=us-east-1 [cluster_name]="nodeops-$ENV" [vpc_id]=vpc-00000000000000000 [vpc_cidr]=10.0.0.0/16
       [lb_controller_role_arn]="arn:aws:iam::111111111111:role/nodeops-$ENV-lb-controller"
       [snapshot_restore_role_arn]="arn:aws:iam::111111111111:role/nodeops-$ENV-snapshot-restore"
       [ebs_kms_key_arn]="arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000000"
       [acm_certificate_arn]="arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000000")
else
  [[ -d $TF_DIR ]] || die "no Terraform environment at $TF_DIR"
  command -v jq >/dev/null || die "jq is required"
  if ((!SKIP_TF)); then
    log "terraform apply $TF_DIR"
    "$TERRAFORM" -chdir="$TF_DIR" init -input=false
    approve=(); ((AUTO_APPROVE)) && approve=(-auto-approve)
    "$TERRAFORM" -chdir="$TF_DIR" apply -input=false "${approve[@]}"
  fi
  helm_json=$("$TERRAFORM" -chdir="$TF_DIR" output -json helm)
  for k in region cluster_name vpc_id vpc_cidr lb_controller_role_arn snapshot_restore_role_arn ebs_kms_key_arn acm_certificate_arn; do
    OUT[$k]=$(jq -r --arg k "$k" '.[$k] // empty' <<<"$helm_json")
  done
  log "kubeconfig for ${OUT[cluster_name]}"
  aws eks update-kubeconfig --region "${OUT[region]}" --name "${OUT[cluster_name]}" --alias "nodeops-$ENV" >/dev/null
  export HELM_KUBECONTEXT="nodeops-$ENV"
  "$HELM" repo add eks https://aws.github.io/eks-charts --force-update >/dev/null
  "$HELM" repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
  "$HELM" repo add grafana https://grafana.github.io/helm-charts --force-update >/dev/null
  "$HELM" repo update >/dev/null
fi
ACM=${NODEOPS_ACM_CERTIFICATE_ARN:-${OUT[acm_certificate_arn]:-}}

# ---- 2. Helm --------------------------------------------------------------------------------
# values FILE...: -f for each file that exists (base values, then the environment's).
values() { local f; for f in "$@"; do [[ -f $f ]] && printf -- '-f\n%s\n' "$f"; done; return 0; }

# release NAME NAMESPACE CHART MODE [ARGS...]; MODE is wait (rollback on failure) or node (wait and
# roll back on upgrades only).
release() {
  local name=$1 ns=$2 chart=$3 mode=$4; shift 4
  [[ -z $ONLY || $ONLY == "$name" ]] || return 0
  local args=("$@")
  [[ $ONLY == "$name" ]] && args+=("${EXTRA_SET[@]}")
  if ((DRY_RUN)); then
    if [[ -d $chart ]]; then
      mkdir -p "$RENDER_DIR"
      "$HELM" template "$name" "$chart" --namespace "$ns" "${args[@]}" >"$RENDER_DIR/$name.yaml" ||
        die "render of $name failed"
      log "rendered $name -> $RENDER_DIR/$name.yaml"
    else
      local f
      for f in "${args[@]}"; do
        [[ $f == *.yaml && -f $f ]] && { python3 -c 'import sys,yaml; yaml.safe_load(open(sys.argv[1]))' "$f" || die "$f is not valid YAML"; }
      done
      log "upstream $chart for $name: values parse (not rendered offline)"
    fi
    return 0
  fi
  local flags=(upgrade --install "$name" "$chart" --namespace "$ns" --history-max 20)
  if [[ $mode == node ]] && ! "$HELM" status "$name" --namespace "$ns" >/dev/null 2>&1; then
    log "install $name (first install: no wait, the nodes start syncing)"
  else
    local timeout=$TIMEOUT; [[ $mode == node ]] && timeout=$NODE_TIMEOUT
    flags+=(--rollback-on-failure --wait=watcher --timeout "$timeout")
    log "upgrade $name (rollback on failure, timeout $timeout)"
  fi
  "$HELM" "${flags[@]}" "${args[@]}" || die "$name failed and was rolled back; see: helm history $name -n $ns"
}

log "deploying chains: ${CHAINS[*]}"

release nodeops-cluster default "$H/cluster" wait \
  $(values "$H/cluster/values-$ENV.yaml") \
  --set-string "storageClass.kmsKeyId=${OUT[ebs_kms_key_arn]:-}"

release aws-load-balancer-controller kube-system "$ALB_CHART" wait --version "$ALB_VERSION" \
  $(values "$VALUES/aws-load-balancer-controller.yaml" "$VALUES/aws-load-balancer-controller-$ENV.yaml") \
  --set-string "clusterName=${OUT[cluster_name]}" --set-string "region=${OUT[region]}" \
  --set-string "vpcId=${OUT[vpc_id]}" \
  --set-string "serviceAccount.annotations.eks\.amazonaws\.com/role-arn=${OUT[lb_controller_role_arn]:-}"

release kube-prometheus-stack monitoring "$KPS_CHART" wait --version "$KPS_VERSION" \
  $(values "$VALUES/kube-prometheus-stack.yaml" "$VALUES/kube-prometheus-stack-$ENV.yaml")
release loki monitoring "$LOKI_CHART" wait --version "$LOKI_VERSION" \
  $(values "$VALUES/loki.yaml" "$VALUES/loki-$ENV.yaml")
release alloy monitoring "$ALLOY_CHART" wait --version "$ALLOY_VERSION" \
  $(values "$VALUES/alloy.yaml" "$VALUES/alloy-$ENV.yaml")
if [[ -f $H/nodeops-monitoring/Chart.yaml ]]; then
  release nodeops-monitoring monitoring "$H/nodeops-monitoring" wait \
    $(values "$H/nodeops-monitoring/values-$ENV.yaml")
fi

for chain in "${CHAINS[@]}"; do
  for pool in "${POOLS[@]}"; do
    release "$chain-$pool" "nodes-$chain" "$H/blockchain-node" node \
      $(values "$H/blockchain-node/values-$ENV.yaml" "$H/blockchain-node/releases/$chain-$pool.yaml") \
      --set-string "serviceAccount.annotations.eks\.amazonaws\.com/role-arn=${OUT[snapshot_restore_role_arn]:-}"
  done
done

[[ -n $ACM || -n $ONLY && $ONLY != nodeops-gateway ]] || die "no ACM certificate: set NODEOPS_ACM_CERTIFICATE_ARN"
release nodeops-gateway nodeops-system "$H/nodeops-gateway" wait \
  $(values "$H/nodeops-gateway/values-$ENV.yaml") \
  --set-string "ingress.certificateArn=$ACM" \
  --set "networkPolicy.trafficFromCIDRs={${OUT[vpc_cidr]:-10.0.0.0/8}}"

log "done"
