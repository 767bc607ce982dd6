"""The most basic dapp flow through `nodeops up`'s gateway, with a real client library: ethers v6
sends a transfer and waits for it to be mined, again and again, against a pool of three lockstep
replicas behind the gateway. Every transaction must be confirmed (the gateway's broadcast keeps
the replicas' pools equal; read-your-writes serves the nonce and receipt where they are known)."""
import json
import os
import shutil
import subprocess

import pytest
from harness import REPO

STACK_OPTIONS = {"monitoring": False}
ETHERS = REPO / ".tools" / "node_modules" / "ethers"


def test_ethers_send_and_wait_confirms_every_transaction(stack):
    node = shutil.which("node")
    if not node or not ETHERS.is_dir():
        if os.environ.get("NODEOPS_REQUIRE_BIN") == "1":
            pytest.fail("node and ethers (make bootstrap) are required")
        pytest.skip("node or ethers missing")
    out = subprocess.run([node, str(REPO / "tests" / "e2e" / "js" / "send_and_wait.js"), stack.gateway_url("ethereum"),
                          "6"], capture_output=True, text=True, timeout=240,
                         env={**os.environ, "ETHERS_PATH": str(ETHERS)})
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert doc.get("results") == ["confirmed"] * 6, (doc, out.stderr[-2000:])
