"""A WebSocket JSON-RPC upstream that misbehaves on purpose, the way real nodes, providers and broken ones do.

It serves WebSocket on a loopback port (`url`, ws://) and relays every message to a real node over
HTTP (`backend`, an anvil), then breaks the answer with one `fault`. Messages on one connection are
answered concurrently (one task per message), so replies may leave in another order than requests
came: a client must match them by id. Server pings are off; the client's pings are answered by the
library (except under `blackhole`).

    with Anvil() as node, WsUpstream(node.url, "reorder") as up:
        ... point a client at up.url ...
        assert up.max_in_flight_per_connection > 1

Faults on the upgrade (apply to upgrades made after the fault is set):
    refuse_401   the upgrade is answered HTTP 401 with a JSON body
    refuse_429   the upgrade is answered HTTP 429 with "Retry-After: 3" and a JSON body
    blackhole    the upgrade succeeds, then nothing is ever read or written again: requests are not
                 read, pings are never ponged, no close frame is ever sent (the transport stops
                 reading; a peer hang-up is still noticed, by polling the socket, to count it closed)
Faults on each message (apply to messages received after the fault is set):
    reorder      honest content, but replies are held until the connection has been quiet for 300 ms
                 (no new message, every backend call done; at most 2 s) and then sent newest request
                 first: a burst of requests is answered in exactly the reverse order of arrival
    silent       reads requests, never answers; the connection stays open and pongs pings
    wrong_id     honest reply with every id replaced by id + 1000000 (non-integer ids by 1000000)
    garbage      the text frame `this is not json`
    binary       the honest reply in a BINARY frame
    huge         a valid reply whose result is a string of `huge_bytes` bytes (default 70 MiB), same
                 id (for a batch: a one-element array with the first element's id); backend not asked
    close_after_request  closes the connection with code 1011, nothing answered
    drop_tcp     aborts the TCP connection (no close frame), nothing answered
    notify       before each honest reply, an unsolicited `eth_subscription` notification
                 {"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":{}}}
    result_empty_object  honest except every `result` member replaced by {} (error replies untouched)
And `none`: every answer honest (a recording relay). `set_fault(name)` changes the fault at run time.

Upgrade checks, before the faults: with `path`, an upgrade to another path gets HTTP 404; with
`require_header=(name, value)`, an upgrade without that header (name case-insensitive, value exact)
gets HTTP 401 with a JSON body. A backend that cannot be reached is answered with a JSON-RPC error
-32603 per request id.

Counters (updated under a lock on the server's thread; read them from the test): `upgrades` lists
(path, headers with lower-case names) of every upgrade request, refused ones included; `connections`
counts upgrades accepted, `open_connections` the ones open now; `messages` counts messages received,
`methods` the method of every single call and of every batch element; `max_in_flight_per_connection`
is the most messages of one connection being answered at once (received, reply not yet sent).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import http
import json
import select
import threading

import requests
import websockets

WS_FAULTS = ("reorder", "silent", "wrong_id", "garbage", "binary", "huge", "close_after_request", "drop_tcp",
             "notify", "result_empty_object")
UPGRADE_FAULTS = ("blackhole", "refuse_401", "refuse_429")
FAULTS = ("none",) + WS_FAULTS + UPGRADE_FAULTS
NOTIFICATION = '{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":{}}}'
REORDER_QUIET = 0.3  # seconds without a new message before held replies leave, newest first
REORDER_MAX_HOLD = 2.0  # ... or this long after the oldest held reply, whatever comes first
WRONG_ID_OFFSET = 1_000_000


def _ids(doc) -> list:
    items = doc if isinstance(doc, list) else [doc]
    return [i.get("id") for i in items if isinstance(i, dict)]


def _mangle(text: str, fault: str) -> str:
    """The backend's reply with a content fault (wrong_id, result_empty_object) applied to every element."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text

    def one(item):
        if not isinstance(item, dict):
            return item
        item = dict(item)
        if fault == "wrong_id":
            rid = item.get("id")
            item["id"] = rid + WRONG_ID_OFFSET if isinstance(rid, int) and not isinstance(rid, bool) else WRONG_ID_OFFSET
        elif fault == "result_empty_object" and "result" in item:
            item["result"] = {}
        return item

    doc = [one(i) for i in doc] if isinstance(doc, list) else one(doc)
    return json.dumps(doc, separators=(",", ":"))


class _Conn:
    """One accepted WebSocket connection's state (touched only on the server's event loop)."""

    def __init__(self, ws):
        self.ws = ws
        self.in_flight = 0
        self.tasks: set[asyncio.Task] = set()
        # reorder: held replies (arrival seq, text, future done when sent)
        self.seq = 0
        self.held: list[tuple[int, str, asyncio.Future]] = []
        self.held_since = 0.0
        self.last_arrival = 0.0
        self.reorder_pending = 0
        self.flusher: asyncio.Task | None = None


class WsUpstream:
    def __init__(self, backend: str, fault: str = "none", *, require_header: tuple[str, str] | None = None,
                 path: str | None = None, huge_bytes: int = 70 << 20):
        self._check(fault)
        self.backend, self.fault = backend, fault
        self.require_header, self.path, self.huge_bytes = require_header, path, huge_bytes
        self.upgrades: list[tuple[str, dict]] = []
        self.connections = self.open_connections = self.messages = 0
        self.methods: list[str] = []
        self.max_in_flight_per_connection = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="ws-upstream")
        self._conns: set[_Conn] = set()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(websockets.serve(
                    self._handle, "127.0.0.1", 0, process_request=self._process_request, ping_interval=None,
                    max_size=128 << 20, max_queue=None, compression=None))
            except BaseException as e:  # noqa: BLE001 - reported to the constructor
                failure.append(e)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="ws-upstream", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}" + (path or "")

    @staticmethod
    def _check(fault: str) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault}")

    def set_fault(self, name: str) -> None:
        self._check(name)
        self.fault = name

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        except Exception:  # noqa: BLE001 - best effort: the loop is stopped below anyway
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- server side, on the event loop ---------------------------------------------------------

    async def _shutdown(self) -> None:
        self._server.server.close()  # stop accepting first
        for conn in list(self._conns):
            conn.ws.transport.abort()  # no close handshake: prompt, even for a blackhole
        for ws in list(self._server.websockets):
            ws.transport.abort()  # connections still in their opening handshake
        handlers = [ws.handler_task for ws in self._server.websockets]
        if handlers:
            await asyncio.wait(handlers, timeout=3)
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    async def _process_request(self, path: str, headers):
        with self._lock:
            self.upgrades.append((path, {k.lower(): v for k, v in headers.raw_items()}))
        if self.path is not None and path.split("?", 1)[0] != self.path:
            return _http(http.HTTPStatus.NOT_FOUND, {"error": "not found"})
        if self.require_header is not None:
            name, value = self.require_header
            if headers.get(name) != value:
                return _http(http.HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"})
        fault = self.fault
        if fault == "refuse_401":
            return _http(http.HTTPStatus.UNAUTHORIZED, {"error": "invalid api key"})
        if fault == "refuse_429":
            return _http(http.HTTPStatus.TOO_MANY_REQUESTS, {"error": "rate limited"}, [("Retry-After", "3")])
        return None

    async def _handle(self, ws) -> None:
        # No await before pause_reading: nothing the client sent after the upgrade is read.
        blackhole = self.fault == "blackhole"
        if blackhole:
            ws.transport.pause_reading()
        conn = _Conn(ws)
        self._conns.add(conn)
        with self._lock:
            self.connections += 1
            self.open_connections += 1
        try:
            if blackhole:
                await self._until_hangup(ws)
                return
            try:
                async for msg in ws:
                    fault = self.fault
                    with self._lock:
                        self.messages += 1
                        self.methods.extend(_methods(msg))
                    conn.in_flight += 1
                    with self._lock:
                        self.max_in_flight_per_connection = max(self.max_in_flight_per_connection, conn.in_flight)
                    task = asyncio.create_task(self._answer(conn, msg, fault))
                    conn.tasks.add(task)
                    task.add_done_callback(conn.tasks.discard)
            except websockets.ConnectionClosed:
                pass
        finally:
            for task in list(conn.tasks):
                task.cancel()
            if conn.flusher is not None:
                conn.flusher.cancel()
            self._conns.discard(conn)
            with self._lock:
                self.open_connections -= 1

    async def _until_hangup(self, ws) -> None:
        """Blackhole: waits, without reading, until the peer hangs up (or the server closes), then drops the TCP."""
        poller = select.poll()
        poller.register(ws.transport.get_extra_info("socket").fileno(),
                        select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        while not ws.transport.is_closing():
            if poller.poll(0):
                break
            await asyncio.sleep(0.2)
        ws.transport.abort()
        await ws.wait_closed()

    async def _answer(self, conn: _Conn, msg, fault: str) -> None:
        ws = conn.ws
        try:
            if fault == "silent":
                return
            if fault == "close_after_request":
                await ws.close(1011, "closing on purpose")
                return
            if fault == "drop_tcp":
                ws.transport.abort()
                return
            if fault == "garbage":
                await ws.send("this is not json")
                return
            if fault == "huge":
                await ws.send(self._huge(msg))
                return
            if fault == "reorder":
                await self._answer_reordered(conn, msg)
                return
            reply = await self._relay(msg)
            if fault in ("wrong_id", "result_empty_object"):
                reply = _mangle(reply, fault)
            if fault == "notify":
                await ws.send(NOTIFICATION)
            await ws.send(reply.encode() if fault == "binary" else reply)
        except websockets.ConnectionClosed:
            pass
        finally:
            conn.in_flight -= 1

    async def _answer_reordered(self, conn: _Conn, msg) -> None:
        loop = asyncio.get_running_loop()
        seq = conn.seq = conn.seq + 1
        conn.last_arrival = loop.time()
        conn.reorder_pending += 1
        try:
            reply = await self._relay(msg)
        finally:
            conn.reorder_pending -= 1
        sent = loop.create_future()
        if not conn.held:
            conn.held_since = loop.time()
        conn.held.append((seq, reply, sent))
        if conn.flusher is None or conn.flusher.done():
            conn.flusher = asyncio.create_task(self._flush_reordered(conn))
        await sent

    async def _flush_reordered(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        while conn.held:
            await asyncio.sleep(0.02)
            now = loop.time()
            quiet = now - conn.last_arrival >= REORDER_QUIET and conn.reorder_pending == 0
            if not (quiet or now - conn.held_since >= REORDER_MAX_HOLD):
                continue
            batch, conn.held = sorted(conn.held, key=lambda h: h[0], reverse=True), []
            for _, reply, sent in batch:
                try:
                    await conn.ws.send(reply)
                except websockets.ConnectionClosed:
                    pass
                if not sent.done():
                    sent.set_result(None)

    def _huge(self, msg) -> str:
        try:
            doc = json.loads(msg)
        except ValueError:
            doc = None
        ids = _ids(doc) if doc is not None else []
        rid = json.dumps(ids[0] if ids else None)
        item = '{"jsonrpc":"2.0","id":' + rid + ',"result":"' + "a" * self.huge_bytes + '"}'
        return "[" + item + "]" if isinstance(doc, list) else item

    async def _relay(self, msg) -> str:
        body = msg.encode() if isinstance(msg, str) else msg
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._post, body)
        except Exception as e:  # noqa: BLE001 - the backend is gone: say so in JSON-RPC
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            errors = [{"jsonrpc": "2.0", "id": i, "error": {"code": -32603, "message": f"backend: {e}"}}
                      for i in (_ids(doc) if doc is not None else [None])]
            return json.dumps(errors if isinstance(doc, list) else errors[0])

    def _post(self, body: bytes) -> str:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        r = session.post(self.backend, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        return r.content.decode("utf-8", errors="replace")


def _methods(msg) -> list[str]:
    try:
        doc = json.loads(msg)
    except ValueError:
        return []
    items = doc if isinstance(doc, list) else [doc]
    return [i.get("method") for i in items if isinstance(i, dict)]


def _http(status: http.HTTPStatus, body: dict, headers: list[tuple[str, str]] = ()):
    return status, [("Content-Type", "application/json"), *headers], json.dumps(body).encode()
