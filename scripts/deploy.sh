#!/usr/bin/env bash
# Deploy one environment: Terraform (plan to a file, review, apply that plan), kubeconfig, the
# required hand-made Secrets, then the Helm releases in order.
#
#   scripts/deploy.sh ENV [--dry-run] [--plan-only] [--auto-approve] [--skip-terraform]
#                         [--pool blue|green] [--only RELEASE] [--set KEY=VALUE ...]
#
#   ENV               dev | staging | prod (deploy/terraform/envs/ENV, deploy/helm/**/values-ENV.yaml)
#   --dry-run         no cloud, no cluster: render every chart of ours with `helm template` into
#                     $NODEOPS_RENDER_DIR (default build/deploy/ENV), both node pools, and check the
#                     upstream charts' values files parse; Terraform outputs are placeholders
#   --plan-only       write the Terraform plan to build/deploy/ENV/tfplan, show it, stop
#   --auto-approve    apply the saved plan without asking (CI, after the plan was reviewed)
#   --skip-terraform  use the existing state's outputs (Helm-only change)
#   --pool POOL       the one node pool (blue or green) whose releases (<chain>-POOL) this run
#                     installs or upgrades; without it no node release is touched. One pool per run:
#                     the other pool keeps serving while this one restarts and catches up.
#   --only RELEASE    deploy just this release (e.g. ethereum-green, nodeops-gateway); with --set,
#                     this is how a canary partition is moved (docs/deployments.md)
#   --set KEY=VALUE   extra value for the --only release
#
# Order: required Secrets check -> nodeops-cluster (namespaces, RBAC, default-deny, StorageClasses,
# PriorityClasses) -> aws-load-balancer-controller, cluster-autoscaler -> kube-prometheus-stack,
# prometheus-adapter, prometheus-blackbox-exporter, loki, alloy, nodeops-monitoring -> blockchain-node releases of --pool ->
# nodeops-gateway.
#
# Rollback: platform releases (controllers, monitoring, gateway) upgrade with
# --rollback-on-failure. Node releases never roll back by themselves: a client upgrade may have
# migrated its database, and the previous version may not open it. They are installed without
# waiting (Ready means synced, which takes hours); watch them and move traffic with
# `nodeops rollout` (docs/deployments.md). To go back, deploy the previous version to the idle pool.
#
# Environment: NODEOPS_CHAINS (default: dev "ethereum polygon", else "ethereum polygon solana"),
# NODEOPS_ACM_CERTIFICATE_ARN (the ALB's certificate; else Terraform output helm.acm_certificate_arn),
# NODEOPS_TIMEOUT (10m), HELM, KUBECTL, TERRAFORM.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

ENV=${1:-}
[[ $ENV =~ ^(dev|staging|prod)$ ]] || usage
shift
DRY_RUN=0 PLAN_ONLY=0 AUTO_APPROVE=0 SKIP_TF=0 POOL="" ONLY="" EXTRA_SET=()
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --plan-only) PLAN_ONLY=1 ;;
    --auto-approve) AUTO_APPROVE=1 ;;
    --pool) POOL=${2:?--pool needs blue or green}; [[ $POOL =~ ^(blue|green)$ ]] || usage; shift ;;
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
KUBECTL=${KUBECTL:-$( [[ -x .tools/bin/kubectl ]] && echo .tools/bin/kubectl || command -v kubectl || true)}
[[ -n $HELM ]] || { echo "deploy: helm not found (scripts/bootstrap.sh installs it)" >&2; exit 1; }
TIMEOUT=${NODEOPS_TIMEOUT:-10m}
if [[ -n ${NODEOPS_CHAINS:-} ]]; then read -r -a CHAINS <<<"$NODEOPS_CHAINS"
elif [[ $ENV == dev ]]; then CHAINS=(ethereum polygon)
else CHAINS=(ethereum polygon solana); fi
if ((DRY_RUN)); then POOLS=(blue green)   # render both: the checks see the whole environment
elif [[ -n $POOL ]]; then POOLS=("$POOL")
else POOLS=(); fi
# --only <chain>-<pool> names its pool.
if ((!DRY_RUN)) && [[ -z $POOL && $ONLY =~ -(blue|green)$ ]]; then POOLS=("${BASH_REMATCH[1]}"); fi
H=deploy/helm
VALUES=deploy/helm/values
RENDER_DIR=${NODEOPS_RENDER_DIR:-build/deploy/$ENV}

# Upstream charts, from their own repositories at deploy time, pinned.
ALB_CHART=eks/aws-load-balancer-controller ALB_VERSION=1.13.4
KPS_CHART=prometheus-community/kube-prometheus-stack KPS_VERSION=75.15.1
LOKI_CHART=grafana/loki LOKI_VERSION=6.33.0
ALLOY_CHART=grafana/alloy ALLOY_VERSION=1.2.0
CA_CHART=autoscaler/cluster-autoscaler CA_VERSION=9.50.1
ADAPTER_CHART=prometheus-community/prometheus-adapter ADAPTER_VERSION=5.1.0
BLACKBOX_CHART=prometheus-community/prometheus-blackbox-exporter BLACKBOX_VERSION=11.3.1

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
       [acm_certificate_arn]="arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"
       [autoscaler_role_arn]="arn:aws:iam::111111111111:role/nodeops-$ENV-autoscaler"
       [loki_role_arn]="arn:aws:iam::111111111111:role/nodeops-$ENV-loki"
       [loki_chunks_bucket]="nodeops-$ENV-111111111111-loki-chunks" [loki_ruler_bucket]="nodeops-$ENV-111111111111-loki-ruler"
       [waf_acl_arn]="$([[ $ENV == dev ]] || echo "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/nodeops-$ENV-gateway/00000000-0000-0000-0000-000000000000")"
       [gateway_inbound_cidrs]="")
else
  [[ -d $TF_DIR ]] || die "no Terraform environment at $TF_DIR"
  command -v jq >/dev/null || die "jq is required"
  if ((!SKIP_TF)); then
    # Plan to a file, show it, apply exactly that plan: what is applied is what was reviewed.
    plan_dir=$PWD/build/deploy/$ENV
    mkdir -p "$plan_dir"
    "$TERRAFORM" -chdir="$TF_DIR" init -input=false
    log "terraform plan $TF_DIR -> $plan_dir/tfplan"
    "$TERRAFORM" -chdir="$TF_DIR" plan -input=false -out="$plan_dir/tfplan"
    "$TERRAFORM" -chdir="$TF_DIR" show -no-color "$plan_dir/tfplan" >"$plan_dir/tfplan.txt"
    if ((PLAN_ONLY)); then log "plan saved: $plan_dir/tfplan (review $plan_dir/tfplan.txt, then rerun with --auto-approve)"; exit 0; fi
    if ((!AUTO_APPROVE)); then
      read -r -p "Apply the plan above ($plan_dir/tfplan)? [y/N] " answer
      [[ $answer == [yY] ]] || die "not applied"
    fi
    log "terraform apply $plan_dir/tfplan"
    "$TERRAFORM" -chdir="$TF_DIR" apply -input=false "$plan_dir/tfplan"
  fi
  helm_json=$("$TERRAFORM" -chdir="$TF_DIR" output -json helm)
  for k in region cluster_name vpc_id vpc_cidr lb_controller_role_arn snapshot_restore_role_arn ebs_kms_key_arn acm_certificate_arn \
           autoscaler_role_arn loki_role_arn loki_chunks_bucket loki_ruler_bucket waf_acl_arn; do
    OUT[$k]=$(jq -r --arg k "$k" '.[$k] // empty' <<<"$helm_json")
  done
  OUT[gateway_inbound_cidrs]=$(jq -r '.gateway_inbound_cidrs // [] | join(",")' <<<"$helm_json")
  log "kubeconfig for ${OUT[cluster_name]}"
  aws eks update-kubeconfig --region "${OUT[region]}" --name "${OUT[cluster_name]}" --alias "nodeops-$ENV" >/dev/null
  export HELM_KUBECONTEXT="nodeops-$ENV"
  "$HELM" repo add eks https://aws.github.io/eks-charts --force-update >/dev/null
  "$HELM" repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
  "$HELM" repo add grafana https://grafana.github.io/helm-charts --force-update >/dev/null
  "$HELM" repo add autoscaler https://kubernetes.github.io/autoscaler --force-update >/dev/null
  "$HELM" repo update >/dev/null
fi
ACM=${NODEOPS_ACM_CERTIFICATE_ARN:-${OUT[acm_certificate_arn]:-}}

# ---- 2. Secrets made by hand: all there, with their keys, before anything is installed ----------
# deploy/required-secrets.txt lists them; a missing one would leave a release waiting on a pod that
# cannot start (CreateContainerConfigError), long after this script said "done".
required_secrets() { # prints "namespace/name keys" for the chains of this run
  local when ref keys
  while read -r when ref keys; do
    [[ -z $when || $when == \#* ]] && continue
    [[ $when == always || " ${CHAINS[*]} " == *" ${when#chain:} "* ]] && echo "$ref $keys"
  done <deploy/required-secrets.txt
}
if ((DRY_RUN)); then
  log "required Secrets (checked on the cluster before install): $(required_secrets | cut -d' ' -f1 | paste -sd' ')"
else
  [[ -n $KUBECTL ]] || die "kubectl not found (scripts/bootstrap.sh installs it)"
  missing=()
  while read -r ref keys; do
    ns=${ref%%/*} name=${ref#*/}
    if ! data=$("$KUBECTL" --context "nodeops-$ENV" -n "$ns" get secret "$name" -o json 2>/dev/null); then
      missing+=("$ref"); continue
    fi
    [[ $keys == - ]] && continue
    for k in ${keys//,/ }; do
      jq -e --arg k "$k" '.data[$k] // empty' <<<"$data" >/dev/null || missing+=("$ref (key $k)")
    done
  done < <(required_secrets)
  ((${#missing[@]} == 0)) || die "missing Secrets: ${missing[*]}; create them first (docs/deploy.md, \"Secrets created by hand\")"
fi

# ---- 3. Helm --------------------------------------------------------------------------------
# values FILE...: -f for each file that exists (base values, then the environment's).
values() { local f; for f in "$@"; do [[ -f $f ]] && printf -- '-f\n%s\n' "$f"; done; return 0; }

# release NAME NAMESPACE CHART MODE [ARGS...]; MODE is wait (wait, roll back on failure) or node
# (no wait, never rolled back: see the header).
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
  if [[ $mode == node ]]; then
    log "upgrade $name (no wait, no automatic rollback: watch it with kubectl -n $ns rollout status statefulset/$name)"
    "$HELM" "${flags[@]}" "${args[@]}" || die "$name failed; nothing was rolled back (helm history $name -n $ns)"
  else
    flags+=(--rollback-on-failure --wait=watcher --timeout "$TIMEOUT")
    log "upgrade $name (rollback on failure, timeout $TIMEOUT)"
    "$HELM" "${flags[@]}" "${args[@]}" || die "$name failed and was rolled back; see: helm history $name -n $ns"
  fi
}

log "deploying chains: ${CHAINS[*]}"

release nodeops-cluster default "$H/cluster" wait \
  $(values "$H/cluster/values-$ENV.yaml") \
  --set-string "storageClass.kmsKeyId=${OUT[ebs_kms_key_arn]:-}" \
  --set "apiServerCIDRs={${OUT[vpc_cidr]:-10.0.0.0/8}}"

release aws-load-balancer-controller kube-system "$ALB_CHART" wait --version "$ALB_VERSION" \
  $(values "$VALUES/aws-load-balancer-controller.yaml" "$VALUES/aws-load-balancer-controller-$ENV.yaml") \
  --set-string "clusterName=${OUT[cluster_name]}" --set-string "region=${OUT[region]}" \
  --set-string "vpcId=${OUT[vpc_id]}" \
  --set-string "serviceAccount.annotations.eks\.amazonaws\.com/role-arn=${OUT[lb_controller_role_arn]:-}"

release cluster-autoscaler kube-system "$CA_CHART" wait --version "$CA_VERSION" \
  $(values "$VALUES/cluster-autoscaler.yaml" "$VALUES/cluster-autoscaler-$ENV.yaml") \
  --set-string "autoDiscovery.clusterName=${OUT[cluster_name]}" --set-string "awsRegion=${OUT[region]}" \
  --set-string "rbac.serviceAccount.annotations.eks\.amazonaws\.com/role-arn=${OUT[autoscaler_role_arn]:-}"

release kube-prometheus-stack monitoring "$KPS_CHART" wait --version "$KPS_VERSION" \
  $(values "$VALUES/kube-prometheus-stack.yaml" "$VALUES/kube-prometheus-stack-$ENV.yaml")
release prometheus-adapter monitoring "$ADAPTER_CHART" wait --version "$ADAPTER_VERSION" \
  $(values "$VALUES/prometheus-adapter.yaml" "$VALUES/prometheus-adapter-$ENV.yaml")
# Probes the public endpoint from inside the cluster (nodeops-monitoring's Probe objects use it).
release prometheus-blackbox-exporter monitoring "$BLACKBOX_CHART" wait --version "$BLACKBOX_VERSION" \
  $(values "$VALUES/prometheus-blackbox-exporter.yaml")
release loki monitoring "$LOKI_CHART" wait --version "$LOKI_VERSION" \
  $(values "$VALUES/loki.yaml" "$VALUES/loki-$ENV.yaml") \
  --set-string "loki.storage.bucketNames.chunks=${OUT[loki_chunks_bucket]:-}" \
  --set-string "loki.storage.bucketNames.ruler=${OUT[loki_ruler_bucket]:-}" \
  --set-string "loki.storage.bucketNames.admin=${OUT[loki_ruler_bucket]:-}" \
  --set-string "loki.storage.s3.region=${OUT[region]}" \
  --set-string "serviceAccount.annotations.eks\.amazonaws\.com/role-arn=${OUT[loki_role_arn]:-}"
release alloy monitoring "$ALLOY_CHART" wait --version "$ALLOY_VERSION" \
  $(values "$VALUES/alloy.yaml" "$VALUES/alloy-$ENV.yaml")
if [[ -f $H/nodeops-monitoring/Chart.yaml ]]; then
  release nodeops-monitoring monitoring "$H/nodeops-monitoring" wait \
    $(values "$H/nodeops-monitoring/values-$ENV.yaml")
fi

((${#POOLS[@]})) || log "no --pool: node releases left as they are (one pool per run: --pool blue, then --pool green)"
for chain in "${CHAINS[@]}"; do
  for pool in "${POOLS[@]}"; do
    release "$chain-$pool" "nodes-$chain" "$H/blockchain-node" node \
      $(values "$H/blockchain-node/values-$ENV.yaml" "$H/blockchain-node/values-$ENV-$chain.yaml" "$H/blockchain-node/releases/$chain-$pool.yaml") \
      --set-string "serviceAccount.annotations.eks\.amazonaws\.com/role-arn=${OUT[snapshot_restore_role_arn]:-}"
  done
done

[[ -n $ACM || -n $ONLY && $ONLY != nodeops-gateway ]] || die "no ACM certificate: set NODEOPS_ACM_CERTIFICATE_ARN"
release nodeops-gateway nodeops-system "$H/nodeops-gateway" wait \
  $(values "$H/nodeops-gateway/values-$ENV.yaml") \
  --set-string "ingress.certificateArn=$ACM" \
  --set-string "ingress.wafAclArn=${OUT[waf_acl_arn]:-}" \
  ${OUT[gateway_inbound_cidrs]:+--set "ingress.inboundCidrs={${OUT[gateway_inbound_cidrs]}}"} \
  --set "networkPolicy.trafficFromCIDRs={${OUT[vpc_cidr]:-10.0.0.0/8}}"

log "done"
