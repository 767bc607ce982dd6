"""The binary's exit codes as docs/interfaces.md ("Exit codes") documents them: 0 done, 1 a failure
at run time, 2 a usage or config error — also for the flag parser's own errors (CLI11's 105-115).

Also `nodeops up` and `check-config` from another directory: paths in a stack file are relative to
the file, the embedded default belongs to the binary's checkout, and what is missing is refused
with the path looked at. Only the last test starts a (one-node) stack.
"""
import os
import shutil
import signal
import subprocess

import pytest
import requests
from harness import ANVIL_BIN, NODEOPS_BIN, REPO, free_port, rpc, wait_until
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


# ---- `nodeops up` and `check-config` from another directory ----------------------------------------

def outside_checkout(tmp_path):
    """A copy of the binary outside any checkout, and a working directory outside one too."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    binary = bindir / "nodeops"
    shutil.copy(NODEOPS_BIN, binary)
    work = tmp_path / "work"
    work.mkdir()
    return binary, work


def test_up_outside_a_checkout_refuses_and_says_where_it_looked(tmp_path):
    binary, work = outside_checkout(tmp_path)
    out = subprocess.run([str(binary), "up"], capture_output=True, text=True, timeout=20, cwd=work)
    assert out.returncode == USAGE, out.stdout + out.stderr
    assert str(tmp_path / "bin") in out.stderr and str(work) in out.stderr, out.stderr
    assert "nodeops up -f FILE" in out.stderr, out.stderr
    assert "COMPONENT" not in out.stdout  # nothing started


def test_the_embedded_default_is_found_from_any_directory(tmp_path):
    """The checkout's binary run from elsewhere resolves the embedded file against its checkout:
    `status` looks in <checkout>/.nodeops, and check-config of the same file, given by path, finds
    its monitoring files (../monitoring) and the checkout's anvil."""
    out = run("status", cwd=tmp_path)
    state = REPO / ".nodeops"
    if out.returncode == 1:  # no developer stack running in this checkout
        assert f"no {state}/state.json" in out.stderr, out.stderr
    else:
        assert out.returncode == 0 and "running" in out.stdout, out.stdout + out.stderr
    out = run("check-config", str(REPO / "examples" / "local.yaml"), cwd=tmp_path)
    assert "monitoring_dir" not in out.stderr, out.stderr
    if (REPO / ".tools" / "bin" / "anvil").exists():
        assert out.returncode == 0, out.stderr


def test_missing_files_and_programs_are_refused_with_the_path_and_the_fix(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    stack = conf / "stack.yaml"
    stack.write_text("state_dir: state\nmonitoring_dir: mon\n"
                     "nodes:\n  - { name: eth-a, chain: ethereum, chain_id: 1, port: 1 }\n")
    env = {**os.environ, "PATH": str(tmp_path / "nowhere")}  # no anvil there, no .tools above /tmp
    for args in (["check-config", str(stack)], ["up", "-f", str(stack)]):
        out = subprocess.run([str(NODEOPS_BIN), *args], capture_output=True, text=True, timeout=20, cwd=tmp_path,
                             env=env)
        assert out.returncode == USAGE, f"{args}: {out.returncode} {out.stdout}{out.stderr}"
        assert f"{stack}: anvil: anvil not found" in out.stderr, out.stderr
        assert f"{stack}: monitoring_dir: {conf / 'mon'} has no rules/" in out.stderr, out.stderr
    assert not (conf / "state").exists(), "up started something"


def test_up_from_another_directory_resolves_paths_against_the_file(tmp_path):
    """Relative state_dir, monitoring_dir and anvil in a stack file, run from elsewhere: they mean
    the file's directory, and the gateway gets its upstream."""
    anvil = require(str(ANVIL_BIN), "make bootstrap")
    conf = tmp_path / "conf"
    (conf / "bin").mkdir(parents=True)
    os.symlink(anvil, conf / "bin" / "anvil")
    gw, admin, exporter, node = free_port(), free_port(), free_port(), free_port()
    (conf / "stack.yaml").write_text(
        f"state_dir: state\nmonitoring_dir: {os.path.relpath(REPO / 'monitoring', conf)}\nanvil: bin/anvil\n"
        f"nodes:\n  - {{ name: eth-a, chain: ethereum, chain_id: 1, port: {node} }}\n"
        f"gateway: {{ listen: 127.0.0.1:{gw}, admin_listen: 127.0.0.1:{admin} }}\n"
        f"exporter: {{ listen: 127.0.0.1:{exporter} }}\nmonitoring: {{ enabled: false }}\n")
    work = tmp_path / "work"
    work.mkdir()
    check = run("check-config", "../conf/stack.yaml", cwd=work)
    assert check.returncode == 0, check.stderr
    log = open(tmp_path / "up.log", "wb")
    proc = subprocess.Popen([str(NODEOPS_BIN), "up", "-f", "../conf/stack.yaml"], cwd=work, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until("gateway ready", lambda: requests.get(f"http://127.0.0.1:{admin}/readyz/ethereum", timeout=2).ok, 30)
        assert (conf / "state" / "state.json").exists()
        assert not (work / "state").exists()
        assert rpc(f"http://127.0.0.1:{gw}/ethereum", "eth_chainId")["result"] == "0x1"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == 0, (tmp_path / "up.log").read_text()
