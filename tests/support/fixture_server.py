"""A tiny loopback HTTP server that replays fixture files.

A scenario is a folder with a routes.json (see tests/fixtures/README.md):

    {"GET /eth/v1/node/syncing": "syncing.json",
     "rpc getHealth": "getHealth.json",
     "*": {"file": "html_502.html", "status": 200, "content_type": "text/html"}}

GET and POST are matched on "METHOD /path" (query ignored); a POST whose body is a JSON-RPC request
(or batch) is matched on "rpc <method>" and the reply's id is set to the request's id. Anything
unmatched gets "*" or a 404. The scenario can be switched while the server runs, so a test can turn
a synced node into a syncing one.

In a test:
    with FixtureServer("tests/fixtures/solana/healthy") as srv:
        srv.url                       # http://127.0.0.1:PORT
        srv.set_scenario("tests/fixtures/solana/behind")
        srv.hits["rpc getHealth"]     # how many times a route was served

From a shell: python3 tests/support/fixture_server.py DIR [--port N]
"""
import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Scenario:
    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        with open(os.path.join(self.directory, "routes.json")) as f:
            self.routes = json.load(f)

    def lookup(self, key):
        spec = self.routes.get(key)
        if spec is None:
            return None
        if isinstance(spec, str):
            spec = {"file": spec}
        with open(os.path.join(self.directory, spec["file"]), "rb") as f:
            body = f.read()
        return (spec.get("status", 200), spec.get("content_type", "application/json"), body)


def _with_id(body, request_id):
    """The recorded JSON-RPC reply with the request's id, or the bytes untouched."""
    try:
        reply = json.loads(body)
    except ValueError:
        return body
    if isinstance(reply, dict) and "id" in reply:
        reply["id"] = request_id
        return json.dumps(reply).encode()
    return body


class FixtureServer:
    def __init__(self, scenario_dir, host="127.0.0.1", port=0):
        self._lock = threading.Lock()
        self._scenario = Scenario(scenario_dir)
        self.hits = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, content_type, body):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer(self, key, request_id=None):
                found = server._resolve(key)
                if found is None:
                    return None
                status, ctype, body = found
                if request_id is not None:
                    body = _with_id(body, request_id)
                return status, ctype, body

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                found = self._answer(f"GET {path}")
                self._send(*(found or (404, "application/json", b'{"message":"no fixture"}')))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                try:
                    request = json.loads(raw)
                except ValueError:
                    request = None
                if isinstance(request, list):
                    replies = []
                    for item in request:
                        found = self._answer(f"rpc {item.get('method')}", item.get("id")) \
                            if isinstance(item, dict) else None
                        if found is None:
                            replies.append({"jsonrpc": "2.0", "id": item.get("id") if isinstance(item, dict) else None,
                                            "error": {"code": -32601, "message": "Method not found"}})
                        else:
                            try:
                                replies.append(json.loads(found[2]))
                            except ValueError:
                                self._send(*found)
                                return
                    self._send(200, "application/json", json.dumps(replies).encode())
                    return
                found = None
                if isinstance(request, dict) and "method" in request:
                    found = self._answer(f"rpc {request['method']}", request.get("id"))
                    if found is None and server._has(f"POST {path}") is False and not server._has("*"):
                        body = json.dumps({"jsonrpc": "2.0", "id": request.get("id"),
                                           "error": {"code": -32601, "message": "Method not found"}})
                        self._send(200, "application/json", body.encode())
                        return
                if found is None:
                    found = self._answer(f"POST {path}")
                self._send(*(found or (404, "application/json", b'{"message":"no fixture"}')))

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = None

    def _has(self, key):
        with self._lock:
            return key in self._scenario.routes

    def _resolve(self, key):
        with self._lock:
            scenario = self._scenario
            if key not in scenario.routes:
                key = "*" if "*" in scenario.routes else None
            if key is None:
                return None
            self.hits[key] = self.hits.get(key, 0) + 1
        return scenario.lookup(key)

    def set_scenario(self, scenario_dir):
        scenario = Scenario(scenario_dir)
        with self._lock:
            self._scenario = scenario

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = FixtureServer(args.scenario, args.host, args.port)
    print(server.url, flush=True)
    server._httpd.serve_forever()


if __name__ == "__main__":
    main()
