// JSON-RPC calls per second through the gateway over WebSocket and over HTTP keep-alive, with the
// same client (Node's `ws` and `http`), and the gateway's CPU per call from /proc.
//   node bench/ws_vs_http.js HTTP_URL GATEWAY_PID [SECONDS] [CONNECTIONS] [DEPTH]
// HTTP: CONNECTIONS keep-alive connections, one call in flight on each (HTTP/1.1 has no more).
// WebSocket: CONNECTIONS connections with 1, then DEPTH (4) calls in flight on each. Prints one JSON
// line per mode: calls/s, gateway CPU µs per call, errors.
const http = require("http");
const fs = require("fs");
const WebSocket = require(process.env.WS_PATH || "ws");

const [url, pid, seconds = "10", conns = "32", depth = "4"] = process.argv.slice(2);
const BODY = process.env.BENCH_BODY || '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}';
const DURATION = Number(seconds) * 1000;

function cpuTicks() {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

async function measure(name, run) {
  const t0 = cpuTicks();
  const started = Date.now();
  const { calls, errors } = await run();
  const secs = (Date.now() - started) / 1000;
  const cpuUs = ((cpuTicks() - t0) * 10000) / Math.max(calls, 1);
  console.log(JSON.stringify({ mode: name, calls_per_s: Math.round(calls / secs), gateway_cpu_us_per_call: +cpuUs.toFixed(1), errors }));
}

function httpRun() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conns) });
  const u = new URL(url);
  let calls = 0, errors = 0;
  const end = Date.now() + DURATION;
  const one = () => new Promise((resolve) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(BODY) } }, (res) => {
      let data = "";
      res.on("data", (c) => (data += c));
      res.on("end", () => { if (res.statusCode === 200 && data.includes('"result"')) calls++; else errors++; resolve(); });
    });
    req.on("error", () => { errors++; resolve(); });
    req.end(BODY);
  });
  const worker = async () => { while (Date.now() < end) await one(); };
  return Promise.all(Array.from({ length: Number(conns) }, worker)).then(() => { agent.destroy(); return { calls, errors }; });
}

function wsRun(inFlight) {
  const wsUrl = url.replace(/^http/, "ws");
  let calls = 0, errors = 0;
  const end = Date.now() + DURATION;
  const worker = () => new Promise((resolve) => {
    // (errors: a reply without a result, e.g. -32005 when more calls are in flight than the
    // upstream's max_inflight)
    const ws = new WebSocket(wsUrl);
    let id = 0, open = 0;
    const send = () => { if (Date.now() < end) { ws.send(BODY.replace('"id":1', `"id":${++id}`)); open++; } };
    ws.on("open", () => { for (let i = 0; i < inFlight; i++) send(); });
    ws.on("message", (m) => {
      open--;
      const text = m.toString();
      if (text.includes('"result"')) calls++;
      else if (errors++ === 0) console.error(`first error: ${text}`);
      send();
      if (open === 0) { ws.close(); }
    });
    ws.on("close", resolve);
    ws.on("error", () => { errors++; resolve(); });
  });
  return Promise.all(Array.from({ length: Number(conns) }, worker)).then(() => ({ calls, errors }));
}

(async () => {
  await measure(`http keep-alive, ${conns} connections`, httpRun);
  await measure(`websocket, ${conns} connections x 1 in flight`, () => wsRun(1));
  await measure(`websocket, ${conns} connections x ${depth} in flight`, () => wsRun(Number(depth)));
})();
