#!/usr/bin/env python3
"""A tiny web app for `make run`: the thing mamori protects (stdlib only).
usage: demo-app.py [PORT]   (listens on 127.0.0.1 only)"""
import html
import http.server
import sys
import urllib.parse

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>demo shop</title></head>
<body><h1>demo shop</h1>%s
<form action="/search"><input name="q"><button>search</button></form></body></html>
"""


class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DemoApp/1.0 Python"  # a banner mamori strips

    def reply(self, status, body, ctype="text/html; charset=utf-8"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Powered-By", "demo-app")  # stripped too
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/search":
            term = q.get("q", [""])[0]
            self.reply(200, PAGE % ("<p>results for <b>%s</b>: 3 items</p>" % html.escape(term)))
        elif u.path == "/":
            self.reply(200, PAGE % "<p>welcome</p>")
        else:
            self.reply(404, PAGE % "<p>not found</p>")

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        form = urllib.parse.parse_qs(body)
        user = form.get("user", ["?"])[0]
        self.reply(200, PAGE % ("<p>hello %s</p>" % html.escape(user)))

    def log_message(self, fmt, *args):
        sys.stderr.write("demo-app: %s\n" % (fmt % args))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), App)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
