#!/usr/bin/env python3
"""A local HTTP sink for notification tests: records each POST as one JSON
line {"path", "headers", "body"} in OUT and answers 200 (or 500 for the
first FAIL requests to /flaky, to test retries). Binds 127.0.0.1 only and
writes the chosen port to PORTFILE."""
import http.server
import json
import sys
import threading

out, portfile = sys.argv[1], sys.argv[2]
fail_first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
lock = threading.Lock()
seen = {"flaky": 0}


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        with lock:
            if self.path.startswith("/flaky"):
                seen["flaky"] += 1
                if seen["flaky"] <= fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
            with open(out, "a") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers), "body": body}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
