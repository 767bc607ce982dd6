#!/usr/bin/env bash
# Offline checks of deploy/terraform: fmt, the environments' layout (envs/<env> link their root
# module to envs/_shared), init + validate of every root (environments and the state bootstrap),
# and `terraform test` (mocked AWS provider) in every module and root.
#
# Runs from anywhere; uses .tools/terraformrc (written by scripts/bootstrap.sh), which points
# Terraform at the local provider mirror. Work happens on a copy under build/terraform/ so the
# source tree gets no .terraform/ directories or lock files.
#
#   tests/deploy/terraform_test.sh            # everything
#   TF_TEST_ONLY=modules/eks tests/deploy/terraform_test.sh   # one directory
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

src="deploy/terraform"
work="$repo_root/build/terraform"
fail() { echo "terraform_test: FAIL: $*" >&2; exit 1; }

# --- prerequisites: fail loudly, never skip -------------------------------------------------
command -v terraform >/dev/null 2>&1 ||
  fail "terraform is not installed (expected /usr/local/bin/terraform; run scripts/bootstrap.sh)"
export TF_CLI_CONFIG_FILE="$repo_root/.tools/terraformrc"
[[ -f "$TF_CLI_CONFIG_FILE" ]] ||
  fail "$TF_CLI_CONFIG_FILE is missing (scripts/bootstrap.sh writes it; it points at the provider mirror)"
mirror="$(sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' "$TF_CLI_CONFIG_FILE" | head -n1)"
[[ -n "$mirror" ]] || fail "no filesystem_mirror path in $TF_CLI_CONFIG_FILE"
compgen -G "$mirror/registry.terraform.io/hashicorp/aws/5.100.*/*/terraform-provider-aws*" >/dev/null ||
  fail "the hashicorp/aws 5.100.x provider is not in the mirror $mirror"

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
export TF_PLUGIN_CACHE_DIR="$work/plugin-cache"
mkdir -p "$TF_PLUGIN_CACHE_DIR"

run() {
  echo "+ $*"
  "$@"
}

start=$SECONDS
echo "== terraform $(terraform version | head -n1 | awk '{print $2}'), provider mirror $mirror"

# --- 1. formatting (on the real tree) -------------------------------------------------------
run terraform fmt -check -recursive -diff "$src"

# --- 2. environments share everything but their tfvars, backend key and tests ----------------
# envs/_shared holds the one copy of the root module; every envs/<env>/ links to it. An env's own
# files are backend.tf, terraform.tfvars and tests/; any other *.tf must be a link into _shared.
shared="$src/envs/_shared"
envs=()
for d in "$src"/envs/*/; do
  env="$(basename "$d")"
  [[ "$env" == _* ]] && continue # _shared and the like: not environments
  envs+=("$env")
done
for env in dev staging prod; do # the environments scripts/deploy.sh accepts
  [[ " ${envs[*]} " == *" $env "* ]] || fail "$src/envs/$env is missing (found: ${envs[*]:-none})"
done
for f in main.tf variables.tf outputs.tf versions.tf; do
  [[ -f "$shared/$f" && ! -L "$shared/$f" ]] || fail "$shared/$f is missing (or is itself a link)"
done
for env in "${envs[@]}"; do
  for f in main.tf variables.tf outputs.tf versions.tf; do
    [[ -L "$src/envs/$env/$f" ]] || fail "$src/envs/$env/$f must be a symlink to ../_shared/$f"
  done
  for f in "$src/envs/$env"/*.tf; do
    name="$(basename "$f")"
    [[ "$name" == backend.tf ]] && continue
    [[ -L "$f" && "$(readlink "$f")" == "../_shared/$name" ]] ||
      fail "$f: environments may differ only in terraform.tfvars and backend.tf; shared files live in envs/_shared, linked from every env"
  done
  [[ -f "$src/envs/$env/backend.tf" && -f "$src/envs/$env/terraform.tfvars" ]] ||
    fail "$src/envs/$env needs its own backend.tf and terraform.tfvars"
done
echo "+ envs/{$(IFS=,; echo "${envs[*]}")}: main/variables/outputs/versions.tf link to envs/_shared"

# --- 3. a scratch copy of the tree to work in ---------------------------------------------------
rm -rf "$work/tree"
mkdir -p "$work/tree"
tar -C "$src" --exclude=.terraform --exclude=.terraform.lock.hcl -cf - . | tar -C "$work/tree" -xf -

dirs=()
for d in bootstrap "${envs[@]/#/envs/}" $(cd "$src" && ls -d modules/*/); do
  d="${d%/}"
  [[ -n "${TF_TEST_ONLY:-}" && "$d" != "$TF_TEST_ONLY" ]] && continue
  dirs+=("$d")
done
[[ ${#dirs[@]} -gt 0 ]] || fail "nothing to test (TF_TEST_ONLY=${TF_TEST_ONLY:-})"

# One directory: init (+ validate for roots) + test, logged to its own file. Modules skip the
# separate validate: `terraform test` validates the configuration before any run.
check_dir() {
  local d="$1" log="$work/logs/${1//\//_}.log" t0=$SECONDS rc
  (
    set -e
    export TF_DATA_DIR="$work/data/${d//\//_}"
    cd "$work/tree/$d"
    echo "+ terraform init -backend=false   ($src/$d)"
    terraform init -backend=false -input=false -no-color >/dev/null
    if [[ "$d" != modules/* ]]; then
      run terraform validate -no-color
    fi
    if compgen -G "tests/*.tftest.hcl" >/dev/null; then
      run terraform test -no-color
    elif [[ "$d" == modules/* ]]; then
      echo "$src/$d has no tests/*.tftest.hcl" >&2
      exit 1
    fi
  ) >"$log" 2>&1 && rc=0 || rc=$?
  echo "rc=$rc seconds=$((SECONDS - t0))" >>"$log"
  return $rc
}

# Directories run TF_TEST_JOBS at a time (default: the number of CPUs); logs print in order.
jobs_max="${TF_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"
rm -rf "$work/logs"
mkdir -p "$work/logs"
for d in "${dirs[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
  check_dir "$d" &
done
wait || true

failed=()
for d in "${dirs[@]}"; do
  log="$work/logs/${d//\//_}.log"
  echo "== $src/$d"
  sed -e '/^rc=/d' -e 's/^/   /' "$log"
  status="$(sed -n 's/^rc=\([0-9]*\) seconds=\([0-9]*\)$/\1 \2/p' "$log")"
  echo "   -> $([[ "${status%% *}" == 0 ]] && echo ok || echo FAILED) in ${status##* }s"
  [[ "${status%% *}" == 0 ]] || failed+=("$d")
done

echo "== done in $((SECONDS - start))s"
if [[ ${#failed[@]} -gt 0 ]]; then
  fail "failed: ${failed[*]}"
fi
echo "terraform_test: OK (${#dirs[@]} directories)"
