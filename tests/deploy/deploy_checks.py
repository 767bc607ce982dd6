#!/usr/bin/env python3
"""Checks over rendered manifests that a schema cannot make (tests/deploy/helm_test.sh runs them).

  deploy_checks.py flags FILE...            client args exist in the pinned client's flag list
  deploy_checks.py refs ENV RENDER_DIR      every reference resolves (see check_refs)
  deploy_checks.py scheduling ENV RENDER_DIR  every pod fits the node groups Terraform declares

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
    """client -> (pinned tag, set of flags). Each fixture's first line is `# pin: <tag>`: moving a
    pin without refreshing the flag list from that release fails here."""
    out = {}
    d = os.path.join(FIXTURES, "client-flags")
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".txt"):
            continue
        pin, flags = None, set()
        for line in open(os.path.join(d, fn)):
            line = line.strip()
            m = re.match(r"# pin: (\S+)$", line)
            if m:
                pin = m.group(1)
            elif line.startswith("--"):
                flags.add(line)
        out[fn[:-4]] = (pin, flags)
    return out


def check_flags(paths):
    fixtures = load_flag_fixtures()
    problems, checked = [], 0
    for owner, spec in pod_specs(load_docs(paths)):
        for c in spec.get("containers", []):
            if c["name"] not in fixtures:
                continue
            pin, known = fixtures[c["name"]]
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
    if checked == 0:
        problems.append("no client container found: the check checked nothing")
    return problems, f"{checked} client args checked"


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
    elif cmd == "scheduling":
        problems, summary = check_scheduling(*rest)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print(f"  {p}")
    print(f"{cmd}: {'FAIL' if problems else 'ok'} ({summary}, {len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
