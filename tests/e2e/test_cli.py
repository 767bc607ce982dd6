"""The binary's exit codes as docs/interfaces.md ("Exit codes") documents them: 0 done, 1 a failure
at run time, 2 a usage or config error — also for the flag parser's own errors (CLI11's 105-115).

No stack is started here: each case is one short run of the binary.
"""
import subprocess

import pytest
from harness import NODEOPS_BIN
from local_stack import require

USAGE = 2


def run(*args, cwd=None, timeout=20):
    return subprocess.run([str(NODEOPS_BIN), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture(autouse=True, scope="module")
def binary():
    require(str(NODEOPS_BIN), "build it: cmake --build build/release --target nodeops")


@pytest.mark.parametrize("args", [
    [],                                             # a subcommand is required
    ["bogus"],                                      # unknown subcommand
    ["--bogus"],
    ["gateway"],                                    # --config is required
    ["gateway", "--config"],                        # an option without its value
    ["gateway", "--config", "x.yaml", "--bogus"],
    ["exporter", "--bogus"],
    ["exporter", "--interval"],
    ["up", "--bogus"],
    ["up", "-f"],
    ["status", "--bogus"],
    ["check-config"],                               # the file is required
    ["check-config", "x.yaml", "--bogus"],
    ["rollout"],                                    # a rollout action is required
    ["rollout", "switch", "--bogus"],
    ["rollout", "status"],                          # --chain is required
    ["node"],
    ["node", "pause"],                              # the node name is required
    ["node", "pause", "eth-a", "--bogus"],
])
def test_usage_errors_exit_2(args):
    out = run(*args)
    assert out.returncode == USAGE, f"nodeops {' '.join(args)} exited {out.returncode}: {out.stdout}{out.stderr}"
    assert out.stderr.strip(), "a usage error says what is wrong"


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["up", "--help"], ["exporter", "--help"]])
def test_help_and_version_exit_0(args):
    out = run(*args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_config_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("chains:\n  - { name: ethereum, chain_id: 1, upstreams: [], bogus_key: 1 }\n")
    for args in (["check-config", str(bad)], ["gateway", "--config", str(bad)],
                 ["check-config", str(tmp_path / "missing.yaml")]):
        out = run(*args)
        assert out.returncode == USAGE, f"{args}: {out.returncode} {out.stderr}"
        assert "bad.yaml:" in out.stderr or "missing.yaml" in out.stderr, out.stderr


def test_runtime_failures_exit_1(tmp_path):
    out = run("status", "--state-dir", str(tmp_path))
    assert out.returncode == 1 and "no stack is running" in out.stderr, out.stderr
