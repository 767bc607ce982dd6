// newHeads fan-out through the gateway: N WebSocket subscribers (Node's `ws`), blocks mined on the
// anvil behind it one at a time; for each block, when each subscriber received it. Prints one JSON
// line: fan-out latency p50/p99 (first to last subscriber, and mined to last subscriber), gateway
// RSS per connection and CPU per notification from /proc.
//   node bench/subs_fanout.js WS_URL ANVIL_URL GATEWAY_PID METRICS_URL [SUBSCRIBERS] [BLOCKS]
const fs = require("fs");
const WebSocket = require(process.env.WS_PATH || "ws");

const [wsUrl, anvilUrl, pid, metricsUrl, subscribers = "10000", blocks = "30"] = process.argv.slice(2);
const N = Number(subscribers);
const BLOCKS = Number(blocks);

function cpuTicks() {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks (100/s)
}
function rssKiB() {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line.split(/\s+/)[1]);
}
async function rpc(method, params = []) {
  const r = await fetch(anvilUrl, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return (await r.json()).result;
}
async function metric(name) {
  const text = await (await fetch(metricsUrl)).text();
  let sum = 0;
  for (const line of text.split("\n")) if (line.startsWith(name + "{") || line.startsWith(name + " ")) sum += Number(line.split(" ").pop());
  return sum;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);
}

const seen = new Map(); // block number -> { first, last, count }
let errors = 0;

function open(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    ws.on("open", () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: i, method: "eth_subscribe", params: ["newHeads"] })));
    ws.on("message", (data) => {
      const now = performance.now();
      // A regex, not JSON.parse: with 10 000 connections in one Node thread, parsing every header
      // would make the client, not the gateway, set the figures.
      const text = data.toString();
      if (!text.startsWith('{"jsonrpc":"2.0","method":"eth_subscription"')) {
        if (JSON.parse(text).id === i) resolve(ws);
        return;
      }
      const n = parseInt(/"number":"(0x[0-9a-fA-F]+)"/.exec(text)[1], 16);
      const s = seen.get(n) || { first: now, last: now, count: 0 };
      s.first = Math.min(s.first, now);
      s.last = Math.max(s.last, now);
      s.count += 1;
      seen.set(n, s);
    });
    ws.on("error", () => { errors += 1; resolve(null); });
  });
}

async function main() {
  const rss0 = rssKiB();
  const conns = [];
  for (let i = 0; i < N; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 200); j++) batch.push(open(j));
    conns.push(...(await Promise.all(batch)));
  }
  await sleep(1000);
  const rss1 = rssKiB();
  const open_ = conns.filter(Boolean).length;
  const sent0 = await metric("nodeops_gateway_subscription_notifications_total");
  const cpu0 = cpuTicks();
  const mined = new Map();
  for (let b = 0; b < BLOCKS; b++) {
    await rpc("evm_mine");
    const n = parseInt(await rpc("eth_blockNumber"), 16);
    mined.set(n, performance.now());
    // Wait until every subscriber has it (or 10 s), then a pause: one block at a time.
    const until = performance.now() + 10000;
    while (performance.now() < until && ((seen.get(n) || {}).count || 0) < open_) await sleep(5);
    await sleep(200);
  }
  const cpu1 = cpuTicks();
  const sent1 = await metric("nodeops_gateway_subscription_notifications_total");
  const spread = [], fromMined = [];
  let complete = 0;
  for (const [n, t] of mined) {
    const s = seen.get(n);
    if (!s) continue;
    if (s.count === open_) complete += 1;
    spread.push(s.last - s.first);
    fromMined.push(s.last - t);
  }
  const notes = sent1 - sent0;
  console.log(JSON.stringify({
    subscribers: open_, errors, blocks: mined.size, blocks_every_subscriber_got: complete,
    fanout_first_to_last_ms: { p50: pct(spread, 50), p99: pct(spread, 99) },
    mined_to_last_subscriber_ms: { p50: pct(fromMined, 50), p99: pct(fromMined, 99) },
    rss_kib_per_connection: +((rss1 - rss0) / Math.max(open_, 1)).toFixed(1),
    notifications: notes, gateway_cpu_us_per_notification: +(((cpu1 - cpu0) * 10000) / Math.max(notes, 1)).toFixed(2),
  }));
  for (const ws of conns) if (ws) ws.terminate();
  process.exit(0);
}
main();
