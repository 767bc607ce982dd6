#include "gateway/status_page.h"

namespace nodeops::gateway {
std::string_view status_page_html() {
  return R"HTML(<!doctype html><html><head><meta charset="utf-8"><title>NodeOps gateway</title></head>
<body><h1>NodeOps gateway</h1><pre id="s">loading…</pre>
<script>async function tick(){try{const r=await fetch('/status');document.getElementById('s').textContent=JSON.stringify(await r.json(),null,2);}catch(e){}}
tick();setInterval(tick,2000);</script></body></html>)HTML";
}
}  // namespace nodeops::gateway
