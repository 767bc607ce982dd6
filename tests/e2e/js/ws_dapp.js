// ethers v6's WebSocketProvider through the gateway's WebSocket: reads, then a transfer confirmed
// by polling eth_getTransactionReceipt over the same connection (tx.wait() subscribing to newHeads
// is covered by tests/integration/test_gateway_subscriptions.py). Prints one JSON line.
//   node ws_dapp.js WS_URL
const { ethers } = require(process.env.ETHERS_PATH);

const KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"; // anvil's third dev key
const TO = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";

async function main() {
  const provider = new ethers.WebSocketProvider(process.argv[2]);
  const out = {};
  try {
    out.chainId = Number((await provider.getNetwork()).chainId);
    out.blockNumber = await provider.getBlockNumber();
    const before = await provider.getBalance(TO);
    // Several reads in flight at once on the one connection: ethers matches the replies by id.
    const reads = await Promise.all([1, 2, 3, 4, 5].map(() => provider.getBalance(TO)));
    out.sameBalances = reads.every((b) => b === before);
    const wallet = new ethers.Wallet(KEY, provider);
    const tx = await wallet.sendTransaction({ to: TO, value: 12345n });
    let receipt = null;
    for (let i = 0; i < 200 && !receipt; i++) {
      receipt = await provider.getTransactionReceipt(tx.hash);
      if (!receipt) await new Promise((r) => setTimeout(r, 100));
    }
    out.status = receipt ? receipt.status : null;
    // At the receipt's block: a "latest" read right after could be answered from ethers' own
    // short-lived cache of the identical earlier call.
    if (receipt) out.gained = ((await provider.getBalance(TO, receipt.blockNumber)) - before).toString();
  } catch (e) {
    out.error = e.shortMessage || e.message;
  }
  await provider.destroy();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.log(JSON.stringify({ fatal: String(e) }));
  process.exit(1);
});
