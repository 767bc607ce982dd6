// ethers v6, as a dapp uses it: a wallet sends transfers through the gateway and waits for each to
// be mined (tx.wait polls eth_getTransactionReceipt). Prints one JSON line with the outcome.
//   node send_and_wait.js URL COUNT
const { ethers } = require(process.env.ETHERS_PATH);

const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // anvil's second dev key
const TO = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

async function main() {
  const [url, count] = [process.argv[2], Number(process.argv[3] || 5)];
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 250 });
  const wallet = new ethers.Wallet(KEY, provider);
  const results = [];
  for (let i = 0; i < count; i++) {
    try {
      const tx = await wallet.sendTransaction({ to: TO, value: 1n });
      const receipt = await tx.wait(1, 30000);
      results.push(receipt && receipt.status === 1 ? "confirmed" : `status ${receipt && receipt.status}`);
    } catch (e) {
      results.push(`error: ${e.shortMessage || e.message}` + (process.env.DEBUG_TX ? ` ${JSON.stringify(e.info || {})} ${String(e.error && e.error.message)}` : ""));
    }
  }
  console.log(JSON.stringify({ results }));
}

main().catch((e) => {
  console.log(JSON.stringify({ fatal: String(e) }));
  process.exit(1);
});
