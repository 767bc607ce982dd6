// ethers v6, as a dapp listens for a contract's events over HTTP: contract.on(...) installs a
// filter (eth_newFilter) and polls it (eth_getFilterChanges) at each new block. Prints one JSON
// line per event as it arrives, "ready" once the listener is installed, and exits when its stdin
// closes (the test decides when nothing more may come).
//   node watch_events.js URL CONTRACT_ADDRESS
const { ethers } = require(process.env.ETHERS_PATH);

async function main() {
  const [url, address] = [process.argv[2], process.argv[3]];
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100 });
  const contract = new ethers.Contract(address, ["event Ping(uint256 n)"], provider);
  await contract.on("Ping", (n, event) => {
    const log = event.log;
    console.log(JSON.stringify({ n: n.toString(), block: log.blockNumber, blockHash: log.blockHash,
                                 tx: log.transactionHash, index: log.index, removed: log.removed }));
  });
  console.log(JSON.stringify({ ready: true }));
  process.stdin.resume();
  process.stdin.on("end", async () => {
    await contract.removeAllListeners();
    provider.destroy();
    console.log(JSON.stringify({ done: true }));
    process.exit(0);
  });
}

main().catch((e) => {
  console.log(JSON.stringify({ fatal: String(e) }));
  process.exit(1);
});
