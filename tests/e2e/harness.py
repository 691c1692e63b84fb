"""End-to-end harness: the real mamori binary between a scripted client and a
scripted origin, both on 127.0.0.1 with random free ports (stdlib only).

A scenario is a function `scenario_NAME(t)` in a tests/e2e/scn_*.py module;
`t` is a Test giving it an origin, a proxy and helpers. Each scenario starts
its own processes and the Test stops them, pass or fail."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAMORI = os.environ.get("MAMORI", os.path.join(ROOT, "build", "release", "mamori"))
RULES_DIR = os.path.join(os.path.dirname(__file__), "rules")


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=20.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


# ---- a scripted origin ---------------------------------------------------------
class Request:
    def __init__(self, method, target, version, headers, body):
        self.method, self.target, self.version = method, target, version
        self.headers, self.body = headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def _read_head(sock, buf):
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


class Origin:
    """HTTP/1.1 keep-alive origin. handler(req) returns (status, headers,
    body) or raw bytes; it may also sleep to play slow."""

    def __init__(self, handler=None):
        self.port = free_port()
        self.handler = handler or (lambda r: (200, [("Content-Type", "text/plain")], b"ok\n"))
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(128)
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        try:
            while True:
                head, buf = _read_head(c, buf)
                if head is None:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
                headers = [tuple(x.split(": ", 1)) for x in lines[1:] if x]
                req = Request(method, target, version, headers, b"")
                n = int(req.header("Content-Length") or 0)
                while len(buf) < n:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                req.body, buf = buf[:n], buf[n:]
                with self.lock:
                    self.requests.append(req)
                out = self.handler(req)
                if out is None:
                    return
                if isinstance(out, bytes):
                    c.sendall(out)
                    continue
                status, hdrs, body = out
                h = "HTTP/1.1 %d X\r\n" % status
                names = [k.lower() for k, _ in hdrs]
                for k, v in hdrs:
                    h += "%s: %s\r\n" % (k, v)
                if "content-length" not in names and "transfer-encoding" not in names:
                    h += "Content-Length: %d\r\n" % len(body)
                c.sendall(h.encode("latin-1") + b"\r\n" + (b"" if method == "HEAD" else body))
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


# ---- the proxy ---------------------------------------------------------------------
class Proxy:
    def __init__(self, t, args, config=None, port=None, listen=True, wait=True):
        """listen=False: the config file says where (pass its port)."""
        self.t = t
        self.port = port or free_port()
        self.state = os.path.join(t.dir, "state")
        self.events = os.path.join(self.state, "events.json")
        argv = [MAMORI, "run", "--workers", "1", "--state-dir", self.state, "--allow-root"]
        if listen:
            argv += ["--listen", "127.0.0.1:%d" % self.port]
        if config is not None:
            argv += ["--config", config]
        argv += args
        self.stderr_path = os.path.join(t.dir, "mamori.stderr")
        self.errf = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.errf, stderr=self.errf)
        if wait and not wait_port(self.port, proc=self.proc):
            self.proc.kill()  # never leave a half-started daemon behind
            self.proc.wait()
            raise Fail("mamori did not start: " + self.stderr())

    def stderr(self):
        self.errf.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errf.close()
        text = self.stderr()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if marker in text:
                self.t.sanitizer.append(text[text.index(marker) - 200 if text.index(marker) > 200 else 0:][:3000])
                break

    def event_lines(self):
        try:
            with open(self.events, "rb") as f:
                return [json.loads(l) for l in f.read().splitlines() if l.strip()]
        except FileNotFoundError:
            return []


# ---- a raw client ------------------------------------------------------------------
class Response:
    def __init__(self, status, headers, body, raw):
        self.status, self.headers, self.body, self.raw = status, headers, body, raw

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def read_response(sock, head_only=False):
    """Reads one response (Content-Length, chunked or until close)."""
    buf = b""
    head, rest = _read_head(sock, buf)
    if head is None:
        return None, rest
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = [tuple(x.split(": ", 1)) for x in lines[1:] if x]
    r = Response(status, headers, b"", head)
    te = r.header("Transfer-Encoding")
    if head_only or status in (204, 304) or 100 <= status < 200:
        return r, rest
    if te and "chunked" in te.lower():
        body = b""
        buf = rest
        while True:
            while b"\r\n" not in buf:
                d = sock.recv(65536)
                if not d:
                    raise Fail("connection closed inside a chunked body")
                buf += d
            line, buf = buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            while len(buf) < size + 2:
                d = sock.recv(65536)
                if not d:
                    raise Fail("connection closed inside a chunk")
                buf += d
            if size == 0:
                while not buf.startswith(b"\r\n") and b"\r\n\r\n" not in buf:
                    buf += sock.recv(65536)
                buf = buf.split(b"\r\n", 1)[1] if buf.startswith(b"\r\n") else buf.split(b"\r\n\r\n", 1)[1]
                r.body = body
                return r, buf
            body += buf[:size]
            buf = buf[size + 2:]
    cl = r.header("Content-Length")
    if cl is not None:
        n = int(cl)
        buf = rest
        while len(buf) < n:
            d = sock.recv(65536)
            if not d:
                raise Fail("connection closed inside the body")
            buf += d
        r.body, rest = buf[:n], buf[n:]
        return r, rest
    buf = rest
    while True:
        d = sock.recv(65536)
        if not d:
            break
        buf += d
    r.body = buf
    return r, b""


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def request(port, raw, timeout=10.0):
    """Sends raw bytes on a new connection and reads one response."""
    s = connect(port, timeout)
    try:
        s.sendall(raw)
        r, _ = read_response(s)
        return r
    finally:
        s.close()


def get(port, path, headers=(), method="GET", body=b""):
    h = "%s %s HTTP/1.1\r\nHost: app.test\r\nUser-Agent: e2e\r\nAccept: */*\r\n" % (method, path)
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    if body:
        h += "Content-Length: %d\r\n" % len(body)
    return request(port, h.encode("latin-1") + b"\r\n" + body)


def closed_by_peer(sock, timeout=3.0):
    """True when the peer closes (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class Test:
    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="mamori-e2e-")
        self.cleanups = []
        self.sanitizer = []  # sanitizer reports found in a proxy's stderr

    def origin(self, handler=None):
        o = Origin(handler)
        self.cleanups.append(o.stop)
        return o

    def proxy(self, args, **kw):
        p = Proxy(self, args, **kw)
        self.cleanups.append(p.stop)
        return p

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def close(self, keep=False):
        for c in reversed(self.cleanups):
            try:
                c()
            except Exception:
                pass
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def rules_args(*extra):
    """A small, fast rule set: the engine base plus tests/e2e/rules/e2e.conf."""
    return ["--no-crs", "--rules", os.path.join(RULES_DIR, "e2e.conf")] + list(extra)
