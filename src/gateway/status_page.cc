#include "gateway/status_page.h"

namespace nodeops::gateway {

// One document, no external assets (the admin port is cluster-internal and may have no internet).
// Every value from /status reaches the DOM through textContent or a numeric SVG attribute, never
// innerHTML: upstream names, URLs and reasons are operator- or node-controlled strings.
// History comes from /status (`history`: [unix_s, head, healthy, rps, error_ratio, p99_ms] per
// health round); when the gateway does not send it, the page keeps its own from each poll.
std::string_view status_page_html() {
  return R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>NodeOps gateway</title>
<style>
:root{--bg:#f5f6f8;--card:#fff;--fg:#1d2430;--muted:#6b7380;--line:#e3e6eb;--ok:#1f9d55;--warn:#d4890b;
--bad:#d64545;--idle:#9aa1ab;--accent:#3b6fd8;--head:#8a93a0;--pill:#eef1f5}
@media (prefers-color-scheme:dark){:root{--bg:#15181d;--card:#1d2128;--fg:#e3e6ea;--muted:#8d95a1;--line:#2c313a;
--ok:#3ccf7a;--warn:#f0ad3c;--bad:#f06262;--idle:#6b7380;--accent:#6f9bff;--head:#7d8693;--pill:#272c35}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;align-items:baseline;gap:16px;padding:18px 28px 8px}
h1{font-size:20px;margin:0;font-weight:600}
#meta{color:var(--muted);font-size:13px}
#banner{margin:8px 28px 0;padding:8px 12px;border-radius:6px;background:var(--bad);color:#fff;display:none}
main{padding:8px 28px 28px;display:grid;gap:18px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden}
.chead{display:flex;flex-wrap:wrap;align-items:center;gap:10px 18px;padding:12px 16px;border-bottom:1px solid var(--line)}
.chead h2{font-size:17px;margin:0;font-weight:600}
.kv{color:var(--muted);font-size:13px}.kv b{color:var(--fg);font-weight:600;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;background:var(--pill)}
.pill.ok{color:var(--ok)}.pill.warn{color:var(--warn)}.pill.bad{color:var(--bad)}
table{width:100%;border-collapse:collapse;table-layout:fixed}
col.c-up{width:24%}col.c-st{width:22%}col.c-n{width:9%}col.c-lag{width:6%}col.c-hist{width:196px}
th{text-align:left;font-weight:500;color:var(--muted);font-size:12px;padding:7px 12px;border-bottom:1px solid var(--line)}
td{padding:8px 12px;border-bottom:1px solid var(--line);vertical-align:middle}
tr:last-child td{border-bottom:0}
th.n,td.n{text-align:right;padding-right:22px;font-variant-numeric:tabular-nums;white-space:nowrap}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:8px;vertical-align:baseline}
.dot.ok{background:var(--ok)}.dot.warn{background:var(--warn)}.dot.bad{background:var(--bad)}.dot.idle{background:var(--idle)}
.name{font-weight:600}.url{color:var(--muted);font-size:12px}
.state{font-weight:600}.state.ok{color:var(--ok)}.state.warn{color:var(--warn)}.state.bad{color:var(--bad)}.state.idle{color:var(--idle)}
.reason{color:var(--muted);font-size:12px;max-width:320px;overflow-wrap:anywhere}
.lagging td.lag{color:var(--warn);font-weight:600}
td.warn{color:var(--warn);font-weight:600}td.bad{color:var(--bad);font-weight:600}
.muted{color:var(--muted)}
svg{display:block}
.spark .rps{fill:var(--accent);fill-opacity:.18;stroke:var(--accent);stroke-width:1.2}
.spark .head{fill:none;stroke:var(--head);stroke-width:1.2}
.spark .up{fill:var(--ok)}.spark .down{fill:var(--bad)}
.legend{color:var(--muted);font-size:11px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:2px;vertical-align:middle;margin:0 3px 0 8px}
footer{padding:0 28px 20px;color:var(--muted);font-size:12px}
</style></head>
<body>
<header><h1>NodeOps gateway</h1><span id="meta">loading…</span><span id="ws" class="kv"></span></header>
<div id="banner" role="alert"></div>
<main id="chains"></main>
<footer>Refreshes every 2 s from <code>/status</code>. Sparkline: <span class="legend"><i style="background:var(--head)"></i>head
<i style="background:var(--accent)"></i>requests/s <i style="background:var(--ok);height:4px"></i>healthy
<i style="background:var(--bad);height:4px"></i>out of rotation</span></footer>
<script>
'use strict';
const SVG = 'http://www.w3.org/2000/svg';
const MAX_POINTS = 120;
const RATE_POINTS = 5;
const local = new Map();  // chain/upstream -> {hist: [...], last: {t, req, fail}} when /status has no history

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, String(attrs[k]));
  return e;
}
function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
function fmt(v, digits) { v = num(v); return v === null ? '—' : v.toFixed(digits); }
function mean(vals) { vals = vals.filter(v => v !== null); return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null; }
function int(v) { v = num(v); return v === null ? '—' : Math.round(v).toLocaleString('en-US'); }

// The upstream's state (/status `state`, docs/gateway.md) as a word and a colour class.
function stateOf(u) {
  if (u.healthy) return ['healthy', 'ok'];
  switch (u.state) {
    case 'not_probed': return ['waiting', 'idle'];
    case 'lagging': return ['lagging', 'warn'];
    case 'syncing': return ['syncing', 'warn'];
    case 'down': return ['down', 'bad'];
    case 'failing_calls': return ['failing calls', 'bad'];
    case 'circuit_open': return ['circuit open', 'bad'];
    case 'wrong_chain': return ['wrong chain', 'bad'];
    default: return ['unhealthy', 'bad'];
  }
}

// [t, head, healthy, rps, error_ratio, p99_ms] points: the gateway's, or our own from each poll.
function historyOf(chain, u, now) {
  if (Array.isArray(u.history)) return u.history;
  const key = chain.name + '\u0000' + u.name;
  let s = local.get(key);
  if (!s) { s = {hist: [], last: null}; local.set(key, s); }
  const req = num(u.requests_total) || 0, fail = num(u.failures_total) || 0;
  let rps = null, err = null;
  if (s.last && now > s.last.t) {
    const dr = Math.max(0, req - s.last.req), df = Math.max(0, fail - s.last.fail);
    rps = dr / (now - s.last.t);
    err = dr > 0 ? df / dr : 0;
  }
  s.last = {t: now, req: req, fail: fail};
  s.hist.push([now, num(u.head), u.healthy ? 1 : 0, rps, err, num(u.p99_ms)]);
  if (s.hist.length > MAX_POINTS) s.hist.splice(0, s.hist.length - MAX_POINTS);
  return s.hist;
}

function sparkline(hist) {
  const W = 170, H = 36, BAND = 4, top = 2, bottom = H - BAND - 2;
  const box = svg('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'spark', role: 'img'});
  const pts = (hist || []).filter(p => Array.isArray(p) && p.length >= 4);
  if (pts.length < 2) return box;
  const n = pts.length, x = i => (i / (n - 1)) * W;
  const series = (idx) => pts.map(p => num(p[idx]));
  const scale = (vals, lo, hi) => vals.map(v => v === null ? null : bottom - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * (bottom - top));
  const rps = series(3), rmax = Math.max(1, ...rps.filter(v => v !== null));
  const ry = scale(rps, 0, rmax);
  let area = 'M0 ' + bottom;
  ry.forEach((y, i) => { area += ' L' + x(i).toFixed(1) + ' ' + (y === null ? bottom : y).toFixed(1); });
  area += ' L' + W + ' ' + bottom + ' Z';
  box.appendChild(svg('path', {d: area, class: 'rps'}));
  const heads = series(1), hv = heads.filter(v => v !== null);
  if (hv.length > 1) {
    const hy = scale(heads, Math.min(...hv), Math.max(...hv));
    let d = '';
    hy.forEach((y, i) => { if (y !== null) d += (d ? ' L' : 'M') + x(i).toFixed(1) + ' ' + y.toFixed(1); });
    box.appendChild(svg('path', {d: d, class: 'head'}));
  }
  const title = svg('title', {});
  const out = pts.filter(p => !p[2]).length;
  title.textContent = 'last ' + n + ' rounds: head ' + int(hv[0]) + ' → ' + int(hv[hv.length - 1]) + ', up to ' +
    Math.max(0, ...rps.filter(v => v !== null)).toFixed(1) + ' req/s' + (out ? ', out of rotation in ' + out : '');
  box.appendChild(title);
  // The health band: one rectangle per run of equal state.
  const w = W / n;
  for (let i = 0; i < n;) {
    let j = i;
    while (j < n && !!pts[j][2] === !!pts[i][2]) j++;
    box.appendChild(svg('rect', {x: (i * w).toFixed(1), y: H - BAND, width: ((j - i) * w).toFixed(1), height: BAND,
                                 class: pts[i][2] ? 'up' : 'down'}));
    i = j;
  }
  return box;
}

function upstreamRow(chain, u, now) {
  const [state, cls] = stateOf(u);
  const tr = el('tr', state);
  tr.dataset.upstream = String(u.name);
  tr.dataset.state = state;
  const hist = historyOf(chain, u, now);

  const name = el('td');
  name.appendChild(el('span', 'dot ' + cls));
  name.appendChild(el('span', 'name', u.name));
  const meta = [u.url, u.pool && u.pool !== 'default' ? 'pool ' + u.pool : '', u.role === 'archive' ? 'archive' : '',
                u.tier === 'fallback' ? 'fallback' : '', u.backoff_s > 0 ? 'backing off ' + u.backoff_s + 's (429)' : '']
    .filter(Boolean).join(' · ');
  name.appendChild(el('div', 'url', meta));
  tr.appendChild(name);

  const st = el('td');
  st.appendChild(el('div', 'state ' + cls, state));
  if (!u.healthy && u.reason) st.appendChild(el('div', 'reason', u.reason));
  tr.appendChild(st);

  tr.appendChild(el('td', 'n', int(u.head)));
  tr.appendChild(el('td', 'n lag', num(u.lag) === null ? '—' : String(u.lag)));
  // Rates are the mean of the last few health rounds: one round alone is too jumpy to read.
  const recent = hist.slice(-RATE_POINTS);
  const rps = mean(recent.map(p => num(p[3])));
  const err = mean(recent.map(p => num(p[4])));
  const rate = el('td', 'n', fmt(rps, 1));
  rate.title = 'mean of the last ' + recent.length + ' health rounds';
  tr.appendChild(rate);
  const ecls = err === null ? '' : err > 0.05 ? ' bad' : err > 0.01 ? ' warn' : '';
  tr.appendChild(el('td', 'n' + ecls, err === null ? '—' : (err * 100).toFixed(1) + ' %'));
  tr.appendChild(el('td', 'n', num(u.requests_total) ? fmt(u.p99_ms, 1) : '—'));
  const sp = el('td');
  sp.appendChild(sparkline(hist));
  tr.appendChild(sp);
  return tr;
}

function chainCard(c, now) {
  const card = el('section', 'card');
  card.dataset.chain = String(c.name);
  const head = el('div', 'chead');
  head.appendChild(el('h2', null, c.name));
  const ups = Array.isArray(c.upstreams) ? c.upstreams : [];
  const healthy = ups.filter(u => u.healthy).length;
  const pcls = healthy === 0 ? 'bad' : healthy < ups.length ? 'warn' : 'ok';
  head.appendChild(el('span', 'pill ' + pcls, healthy + ' / ' + ups.length + ' healthy'));
  const kv = (k, v) => { const s = el('span', 'kv', k + ' '); s.appendChild(el('b', null, v)); head.appendChild(s); };
  kv('chain id', c.chain_id);
  kv('head', int(c.best_head));
  kv('max lag', c.max_lag_blocks);
  if (c.finalized !== null && c.finalized !== undefined) kv('finalized', int(c.finalized));
  // The response cache's hit ratio (absent until it has answered a cacheable call).
  if (c.cache && typeof c.cache.hit_ratio === 'number') kv('cache hits', fmt(c.cache.hit_ratio * 100, 1) + '%');
  const traffic = c.traffic && typeof c.traffic === 'object' ? Object.entries(c.traffic) : [];
  if (traffic.length > 1 || (c.active_pool && c.active_pool !== 'default')) {
    kv('active pool', c.active_pool);
    kv('traffic', traffic.map(([p, v]) => p + ' ' + fmt(v, 0) + '%').join(', '));
  }
  card.appendChild(head);

  const table = el('table');
  const cols = el('colgroup');
  ['c-up', 'c-st', 'c-n', 'c-lag', 'c-n', 'c-n', 'c-n', 'c-hist'].forEach(c => cols.appendChild(el('col', c)));
  table.appendChild(cols);
  const hr = el('tr');
  [['Upstream', ''], ['Status', ''], ['Head', 'n'], ['Lag', 'n'], ['Req/s', 'n'], ['Errors', 'n'], ['p99 ms', 'n'],
   ['History', '']].forEach(([t, cls]) => hr.appendChild(el('th', cls, t)));
  const thead = el('thead');
  thead.appendChild(hr);
  table.appendChild(thead);
  const body = el('tbody');
  ups.forEach(u => body.appendChild(upstreamRow(c, u, now)));
  table.appendChild(body);
  card.appendChild(table);
  return card;
}

function render(s) {
  const now = Date.now() / 1000;
  const main = document.getElementById('chains');
  const cards = (Array.isArray(s.chains) ? s.chains : []).map(c => chainCard(c, now));
  main.replaceChildren(...cards);
  if (!cards.length) main.appendChild(el('p', 'muted', 'No chains configured.'));
  const total = (s.chains || []).reduce((a, c) => a + (c.upstreams || []).length, 0);
  const healthy = (s.chains || []).reduce((a, c) => a + (c.upstreams || []).filter(u => u.healthy).length, 0);
  document.getElementById('meta').textContent = healthy + ' of ' + total + ' upstreams healthy · updated ' +
    new Date().toLocaleTimeString('en-GB') + (s.draining ? ' · draining' : '');
  const banner = document.getElementById('banner');
  banner.style.display = s.draining ? 'block' : 'none';
  banner.textContent = s.draining ? 'The gateway is draining: it finishes in-flight requests and stops.' : '';
}

// WebSocket connections and subscriptions by kind, read from the gateway's own /metrics.
function sumOf(text, name) {
  const out = {total: 0, by: {}};
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!isFinite(v)) continue;
    out.total += v;
    const kind = /kind="([^"]*)"/.exec(line);
    if (kind) out.by[kind[1]] = (out.by[kind[1]] || 0) + v;
  }
  return out;
}
async function websockets() {
  try {
    const r = await fetch('/metrics', {cache: 'no-store'});
    if (!r.ok) return;
    const text = await r.text();
    const conns = sumOf(text, 'nodeops_gateway_websocket_connections').total;
    const subs = sumOf(text, 'nodeops_gateway_subscriptions');
    const kinds = Object.entries(subs.by).filter(([, v]) => v > 0).map(([k, v]) => k + ' ' + v).join(', ');
    document.getElementById('ws').textContent = 'WebSocket: ' + conns + (conns === 1 ? ' connection' : ' connections') +
      ' · ' + subs.total + (subs.total === 1 ? ' subscription' : ' subscriptions') + (kinds ? ' (' + kinds + ')' : '');
  } catch (e) { /* the banner reports an unreachable gateway */ }
}

async function tick() {
  websockets();
  try {
    const r = await fetch('/status', {cache: 'no-store'});
    if (!r.ok) throw new Error('HTTP ' + r.status);
    render(await r.json());
  } catch (e) {
    const banner = document.getElementById('banner');
    banner.style.display = 'block';
    banner.textContent = 'Cannot reach the gateway (' + e.message + '); retrying every 2 s.';
  }
  setTimeout(tick, 2000);
}
tick();
</script>
</body></html>
)HTML";
}
}  // namespace nodeops::gateway
