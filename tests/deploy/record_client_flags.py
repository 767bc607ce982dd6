#!/usr/bin/env python3
"""Regenerates tests/deploy/fixtures/client-flags/<client>.txt from the clients' own source code.

For each client the flag names are read from the flag definitions in code, at the git tag equal to
the image tag the chart pins (deploy/helm/blockchain-node/values.yaml). When that tag is not in the
clone (the clone here is older than the release), the newest release tag of the clone is used and
the fixture says so in its `# flags-from:` line; `deploy_checks.py flags` then names the client in
its summary, so the gap shows in every test run until the fixture is regenerated from the pin.

Usage: tests/deploy/record_client_flags.py MIRROR_ROOT [CLIENT...]
MIRROR_ROOT holds bare clones named owner+name/repo (as the `fetch` tool lays them out):
sigp+lighthouse, 0xPolygon+bor, 0xPolygon+heimdall-v2, cometbft+cometbft, 0xPolygon+cosmos-sdk.
geth, reth and agave are not handled here (their fixtures say where they come from).

The fixtures are data (flag names), not code of those projects.
"""
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "deploy", "fixtures", "client-flags")
RELEASE_TAG = re.compile(r"^v?\d+\.\d+\.\d+$")


def git(mirrors, repo, *args):
    git_dir = os.path.join(mirrors, repo.replace("/", "+"), "repo")
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True,
                          text=True).stdout


def pins():
    values = yaml.safe_load(open(os.path.join(ROOT, "deploy", "helm", "blockchain-node", "values.yaml")))
    return {name: c["image"]["tag"] for p in values["presets"].values()
            for name, c in p.get("clients", {}).items()}


def release_ref(mirrors, repo, pin):
    """(tag, commit, note): the pin's tag when the clone has it, else its newest release tag."""
    tags = git(mirrors, repo, "tag").split()
    for want in (pin, "v" + pin.lstrip("v"), pin.lstrip("v")):
        if want in tags:
            return want, git(mirrors, repo, "rev-parse", want + "^{commit}").strip(), ""
    releases = sorted((t for t in tags if RELEASE_TAG.match(t)),
                      key=lambda t: [int(x) for x in t.lstrip("v").split(".")])
    newest = releases[-1]
    note = (f"# NOTE: the pinned tag {pin} is not in the readable clone of {repo} (newest release tag "
            f"{newest}); regenerate with tests/deploy/record_client_flags.py when it is.")
    return newest, git(mirrors, repo, "rev-parse", newest + "^{commit}").strip(), note


def names_in(mirrors, repo, commit, path, pattern):
    text = git(mirrors, repo, "show", f"{commit}:{path}")
    return {m for m in re.findall(pattern, text)}


def files_under(mirrors, repo, commit, folder, suffix):
    return [f for f in git(mirrors, repo, "ls-tree", "-r", "--name-only", commit, folder).split()
            if f.endswith(suffix) and not f.endswith("_test" + suffix)]


CLAP_LONG = r'\.long\("([a-z0-9][a-z0-9-]*)"\)'
GO_FLAG_NAME = r'Name:\s+"([a-z0-9][a-zA-Z0-9._-]*)"'
GO_FLAG_CONST = r'\b[A-Za-z]+Flag\s*=\s*"([a-z0-9][a-z0-9._-]*)"'
GO_FLAG_VAR = r'\b[fF]lag[A-Za-z]*\s*=\s*"([a-z0-9][a-z0-9._-]*)"'
# cobra: Flags().String("name", ...) or Flags().StringVar(&x, "name", ...); the name is the first
# string literal, right after the opening parenthesis or after the variable's address.
COBRA_FLAG = r'Flags\(\)\.[A-Za-z0-9]+\(\s*(?:&[^,"()]+,\s*)?"([a-z0-9][a-z0-9._-]*)"'


def lighthouse(mirrors, pin):
    repo = "sigp/lighthouse"
    tag, commit, note = release_ref(mirrors, repo, pin)
    files = ["beacon_node/src/cli.rs", "lighthouse/src/main.rs", "common/clap_utils/src/flags.rs"]
    flags = set()
    for f in files[:2]:
        flags |= names_in(mirrors, repo, commit, f, CLAP_LONG)
    # Flags whose name is a constant (.long(DISABLE_MALLOC_TUNING_FLAG)).
    flags |= names_in(mirrors, repo, commit, files[2], r'_FLAG:\s*&str\s*=\s*"([a-z0-9][a-z0-9-]*)"')
    flags |= {"help", "version"}  # clap adds them
    header = ["# lighthouse bn flags: .long(\"...\") of every clap Arg of the beacon node and the global ones, plus",
              "# the *_FLAG name constants of clap_utils and clap's own --help/--version",
              f"# source: github.com/{repo} tag {tag} commit {commit}: {', '.join(files)}"]
    return tag, header, note, flags


def bor(mirrors, pin):
    repo = "0xPolygon/bor"
    tag, commit, note = release_ref(mirrors, repo, pin)
    path = "internal/cli/server/flags.go"
    flags = names_in(mirrors, repo, commit, path, GO_FLAG_NAME)
    header = ["# bor server flags: Name: of every flag of `bor server`",
              f"# source: github.com/{repo} tag {tag} commit {commit}: {path}"]
    return tag, header, note, flags


def heimdall(mirrors, pin):
    repo = "0xPolygon/heimdall-v2"
    tag, commit, note = release_ref(mirrors, repo, pin)
    own = ["helper/config.go"] + files_under(mirrors, repo, commit, "cmd/heimdalld/cmd/", ".go")
    flags = names_in(mirrors, repo, commit, "helper/config.go", GO_FLAG_CONST)
    for f in own[1:]:
        flags |= names_in(mirrors, repo, commit, f, COBRA_FLAG)
        flags |= names_in(mirrors, repo, commit, f, GO_FLAG_VAR)
    # `heimdalld start` is cosmos-sdk's server.StartCmdWithOptions (its start flags and the root's
    # persistent flags) plus CometBFT's AddNodeFlags, at the versions heimdall's go.mod names.
    gomod = git(mirrors, repo, "show", f"{commit}:go.mod")
    comet_version = re.search(r"github.com/cometbft/cometbft v(\S+)", gomod).group(1)
    sdk_replace = re.search(r"github.com/cosmos/cosmos-sdk => github.com/0xPolygon/cosmos-sdk (\S+)", gomod).group(1)
    comet_repo, comet_path = "cometbft/cometbft", "cmd/cometbft/commands/run_node.go"
    comet_tag = "v" + comet_version
    comet_commit = git(mirrors, comet_repo, "rev-parse", comet_tag + "^{commit}").strip()
    flags |= names_in(mirrors, comet_repo, comet_commit, comet_path, COBRA_FLAG)
    sdk_repo = "0xPolygon/cosmos-sdk"
    sdk_tags = git(mirrors, sdk_repo, "tag").split()
    sdk_ref = sdk_replace if sdk_replace in sdk_tags else sorted(
        (t for t in sdk_tags if t.endswith("-polygon")),
        key=lambda t: [int(x) for x in re.findall(r"\d+", t)])[-1]
    sdk_commit = git(mirrors, sdk_repo, "rev-parse", sdk_ref + "^{commit}").strip()
    sdk_files = ["client/flags/flags.go", "server/start.go"]
    for f in sdk_files:
        flags |= names_in(mirrors, sdk_repo, sdk_commit, f, GO_FLAG_VAR)
    header = ["# heimdalld flags: heimdall's own (helper/config.go *Flag constants, cobra flags of cmd/heimdalld/cmd),",
              "# plus those `heimdalld start` gets from CometBFT's AddNodeFlags and cosmos-sdk's start/root flags",
              f"# source: github.com/{repo} tag {tag} commit {commit}: helper/config.go, cmd/heimdalld/cmd/*.go",
              f"# source: github.com/{comet_repo} tag {comet_tag} commit {comet_commit}: {comet_path} (go.mod: cometbft {comet_version}, replaced by 0xPolygon/cometbft)",
              f"# source: github.com/{sdk_repo} ref {sdk_ref} commit {sdk_commit}: {', '.join(sdk_files)}"
              + ("" if sdk_ref == sdk_replace else f" (go.mod replaces cosmos-sdk with {sdk_replace}, not in the clone)")]
    return tag, header, note, flags


CLIENTS = {"lighthouse": lighthouse, "bor": bor, "heimdall": heimdall}


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    mirrors, wanted = argv[1], argv[2:] or list(CLIENTS)
    pinned = pins()
    for client in wanted:
        pin = pinned[client]
        tag, header, note, flags = CLIENTS[client](mirrors, pin)
        flags = {f for f in flags if not re.fullmatch(r"[0-9.]+", f)}
        lines = [f"# pin: {pin}", f"# flags-from: {tag}", *header]
        if note:
            lines.append(note)
        lines.append("# generated by tests/deploy/record_client_flags.py; flag names only")
        lines += sorted("--" + f for f in flags)
        with open(os.path.join(OUT, client + ".txt"), "w") as out:
            out.write("\n".join(lines) + "\n")
        print(f"{client}: {len(flags)} flags from {tag} (pin {pin})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
