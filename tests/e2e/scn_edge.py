"""The strict edge: smuggling and limit cases, timeouts, keep-alive, banners,
upstream failures."""
import socket
import threading
import time

from harness import free_port, check, closed_by_peer, connect, get, read_response, request, rules_args


def _proxy(t, o, conf=""):
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\n%s" % (o.port, conf))
    return t.proxy(rules_args(), config=cfg)


def _rejected(t, p, o, raw, status, what):
    s = connect(p.port)
    s.sendall(raw)
    r, _ = read_response(s)
    check(r is not None and r.status == status, "%s: want %d, got %s" % (what, status, r and r.raw))
    check(closed_by_peer(s), "%s: connection closed after the rejection" % what)
    s.close()
    check(len(o.requests) == 0, "%s: nothing reached the origin" % what)
    ev = p.event_lines()
    check(ev and ev[-1]["event.action"] == "rejected" and ev[-1]["http.response.status_code"] == status,
          "%s: rejected event: %r" % (what, ev[-1:] if ev else ev))


def scenario_cl_and_te(t):
    o = t.origin()
    p = _proxy(t, o)
    _rejected(t, p, o, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
              400, "CL+TE")


def scenario_duplicate_cl(t):
    o = t.origin()
    p = _proxy(t, o)
    _rejected(t, p, o, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
              400, "duplicate Content-Length")


def scenario_bad_chunk_size(t):
    o = t.origin()
    p = _proxy(t, o)
    _rejected(t, p, o, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
              400, "bad chunk size")


def scenario_obs_fold(t):
    o = t.origin()
    p = _proxy(t, o)
    _rejected(t, p, o, b"GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", 400, "obs-fold")


def scenario_control_char_in_header(t):
    o = t.origin()
    p = _proxy(t, o)
    _rejected(t, p, o, b"GET / HTTP/1.1\r\nHost: a\r\nX-A: o\x01ne\r\n\r\n", 400, "control character")


def scenario_oversize_request_line(t):
    o = t.origin()
    p = _proxy(t, o)
    _rejected(t, p, o, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414, "long request line")


def scenario_oversize_headers(t):
    o = t.origin()
    p = _proxy(t, o)
    raw = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 1000) for i in range(70)) + b"\r\n"
    _rejected(t, p, o, raw, 431, "head over 64 KiB")


def scenario_too_many_headers(t):
    o = t.origin()
    p = _proxy(t, o)
    raw = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-F%d: v\r\n" % i for i in range(150)) + b"\r\n"
    _rejected(t, p, o, raw, 431, "150 headers")


def scenario_body_over_limit(t):
    o = t.origin()
    p = _proxy(t, o, "max-body 1k\n")
    _rejected(t, p, o, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"a" * 5000, 413,
              "Content-Length over max-body")
    p2 = p
    s = connect(p2.port)
    s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              + b"400\r\n" + b"a" * 1024 + b"\r\n400\r\n" + b"a" * 1024 + b"\r\n0\r\n\r\n")
    r, _ = read_response(s)
    check(r.status == 413, "chunked body over max-body: %d" % r.status)
    s.close()


def scenario_slowloris_header_timeout(t):
    o = t.origin()
    p = _proxy(t, o, "header-timeout 1s\n")
    s = connect(p.port)
    t0 = time.time()
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
    for _ in range(3):  # keep dripping: the timeout counts from the first byte
        time.sleep(0.4)
        try:
            s.sendall(b"X-A: b\r\n")
        except OSError:
            break
    s.settimeout(5)
    data = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except (ConnectionResetError, socket.timeout):
        pass
    dt = time.time() - t0
    check(data.startswith(b"HTTP/1.1 408"), "408 after the header timeout: %r" % data[:40])
    check(dt < 3, "closed in time (%.1fs)" % dt)


def scenario_idle_keepalive_timeout(t):
    o = t.origin()
    p = _proxy(t, o, "idle-timeout 1s\n")
    s = connect(p.port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    r, _ = read_response(s)
    check(r.status == 200, "first request")
    t0 = time.time()
    check(closed_by_peer(s, 4), "idle keep-alive connection closed")
    check(time.time() - t0 < 3, "within the idle timeout")


def scenario_body_timeout(t):
    o = t.origin()
    p = _proxy(t, o, "body-timeout 1s\n")
    s = connect(p.port)
    s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
    s.settimeout(4)
    r, _ = read_response(s)
    check(r.status == 408, "408 when the body stalls: %d" % r.status)


def scenario_keepalive_reuse(t):
    o = t.origin()
    p = _proxy(t, o)
    s = connect(p.port)
    rest = b""
    for i in range(5):
        s.sendall(b"GET /k%d HTTP/1.1\r\nHost: a\r\n\r\n" % i)
        r, rest = read_response(s)
        check(r.status == 200, "request %d on one client connection" % i)
    # pipelined
    s.sendall(b"".join(b"GET /p%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(3)))
    got = 0
    buf = b""
    s.settimeout(5)
    while buf.count(b"HTTP/1.1 200") < 3:
        buf += s.recv(65536)
    s.close()
    check(len(o.requests) == 8, "8 requests reached the origin")
    check(o.connections == 1, "one upstream connection reused for all: %d" % o.connections)


def scenario_http10_closes(t):
    o = t.origin()
    p = _proxy(t, o)
    s = connect(p.port)
    s.sendall(b"GET / HTTP/1.0\r\nHost: a\r\n\r\n")
    r, _ = read_response(s)
    check(r.status == 200 and r.header("Connection") == "close", "HTTP/1.0 answered and closed")
    check(closed_by_peer(s), "closed")


def scenario_banner_stripping(t):
    def h(r):
        return (200, [("Content-Type", "text/html"), ("Server", "Apache/2.4.1 (Unix)"),
                      ("X-Powered-By", "PHP/7.0.1"), ("X-AspNet-Version", "4.0.30319"),
                      ("X-AspNetMvc-Version", "5.2"), ("X-Generator", "Drupal 7"),
                      ("X-Drupal-Cache", "HIT"), ("X-Custom", "kept")], b"<p>hi</p>")
    o = t.origin(h)
    p = _proxy(t, o)
    r = get(p.port, "/")
    names = [k.lower() for k, _ in r.headers]
    for banned in ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version",
                   "x-generator", "x-drupal-cache"):
        check(banned not in names, "%s stripped: %r" % (banned, r.headers))
    check(r.header("X-Custom") == "kept", "other headers kept")
    check(r.header("X-Content-Type-Options") == "nosniff", "nosniff added")
    check(r.header("Referrer-Policy") == "strict-origin-when-cross-origin", "referrer policy added")
    check(r.header("Strict-Transport-Security") is None, "no HSTS on plain HTTP")
    r = get(p.port, "/nope?q=attack")
    check(b"mamori" not in r.raw.lower() and b"mamori" not in r.body.lower(), "no product name on pages")


def scenario_banner_list_configurable(t):
    def h(r):
        return (200, [("Content-Type", "text/plain"), ("Server", "x"), ("X-Secret-Stack", "y")], b"ok")
    o = t.origin(h)
    p = _proxy(t, o, "strip-headers X-Secret-Stack\nreferrer-policy no-referrer\n")
    r = get(p.port, "/")
    check(r.header("X-Secret-Stack") is None and r.header("Server") == "x", "configured list used")
    check(r.header("Referrer-Policy") == "no-referrer", "configured referrer policy")


def scenario_upstream_down_502(t):
    port = free_port()  # nothing listens there
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\n" % port)
    p = t.proxy(rules_args(), config=cfg)
    r = get(p.port, "/")
    check(r.status == 502, "502 when the upstream is down: %d" % r.status)
    check(b"refused" not in r.body and str(port).encode() not in r.body, "no internals on the page")
    ev = p.event_lines()
    check(ev and ev[-1]["event.action"] == "upstream_error" and ev[-1]["http.response.status_code"] == 502,
          "upstream error event: %r" % ev)


def scenario_upstream_timeout_504(t):
    def h(r):
        time.sleep(3)
        return (200, [], b"late")
    o = t.origin(h)
    p = _proxy(t, o, "upstream-timeout 1s\n")
    t0 = time.time()
    r = get(p.port, "/")
    check(r.status == 504, "504 on upstream timeout: %d" % r.status)
    check(time.time() - t0 < 2.5, "in time")


def scenario_upstream_closes_pooled_connection(t):
    # the origin closes after each response without saying so: the pooled
    # connection is stale on the next request and the proxy retries once
    def h(r):
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    o = t.origin(h)
    orig_serve = o._serve

    def serve_once(c):
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            c.sendall(h(None))
            time.sleep(0.05)
        finally:
            c.close()
    o._serve = serve_once
    p = _proxy(t, o)
    for i in range(4):
        r = get(p.port, "/r%d" % i)
        check(r.status == 200, "request %d after a silent close: %d" % (i, r.status))
        time.sleep(0.1)


def scenario_garbage_and_abrupt_clients_survive(t):
    import random
    rnd = random.Random(20261125)

    def h(r):
        if r.target.startswith("/big"):
            return (200, [("Content-Type", "text/html")], b"<p>" + b"x" * 300000 + b"</p>")
        if r.target.startswith("/chunk"):
            return (200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
                    b"3\r\n{}\n\r\n0\r\n\r\n")
        return (200, [("Content-Type", "text/plain")], b"ok")
    o = t.origin(h)
    p = _proxy(t, o, "header-timeout 2s\nbody-timeout 2s\n")
    seeds = [
        b"GET /?q=a HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=b&c=d",
        b"POST /j HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n",
        b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /chunk HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HEAD /big HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    for i in range(600):
        data = rnd.choice(seeds) * rnd.randint(1, 3)
        data = bytearray(data)
        for _ in range(rnd.randint(0, 4)):
            if not data:
                break
            op = rnd.randint(0, 3)
            pos = rnd.randrange(len(data))
            if op == 0:
                data[pos] = rnd.randrange(256)
            elif op == 1:
                del data[pos:pos + rnd.randint(1, 10)]
            elif op == 2:
                data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 20)))
            else:
                data = data[:pos]
        try:
            s = connect(p.port, timeout=5)
            s.sendall(bytes(data))
            if rnd.random() < 0.3:
                s.close()  # abrupt: leave before (or while) the answer comes
                continue
            s.settimeout(0.05 if rnd.random() < 0.9 else 0.5)
            try:
                while s.recv(65536):
                    pass
            except (socket.timeout, ConnectionResetError):
                pass
            s.close()
        except OSError:
            pass
    check(p.proc.poll() is None, "proxy still running")
    r = get(p.port, "/after")
    check(r.status == 200, "still serving after the garbage: %d" % r.status)


def scenario_max_connections_pauses_accept(t):
    o = t.origin()
    p = _proxy(t, o, "max-connections 3\n")
    idle = [connect(p.port) for _ in range(3)]
    time.sleep(0.3)
    s = connect(p.port)  # completes in the kernel backlog
    s.sendall(b"GET /late HTTP/1.1\r\nHost: a\r\n\r\n")
    s.settimeout(0.7)
    try:
        early = s.recv(100)
    except socket.timeout:
        early = None
    check(early is None, "no answer while at the cap: %r" % early)
    idle[0].close()
    s.settimeout(5)
    r, _ = read_response(s)
    check(r.status == 200, "served once a connection closed: %d" % r.status)
    check("max-connections" in p.stderr(), "the pause is logged")
    for x in idle[1:] + [s]:
        x.close()


def scenario_stale_pooled_connection_is_retried(t):
    # Each origin connection answers one request, then closes when the
    # second request arrives without answering it: the proxy's pooled
    # connection looks alive until it is used, and the request must be
    # retried once on a fresh connection instead of failing with 502.
    local = threading.local()

    def h(r):
        n = getattr(local, "n", 0) + 1
        local.n = n
        if n > 1:
            return None  # close without an answer
        return (200, [("Content-Type", "text/plain")], b"fresh")
    o = t.origin(h)
    p = _proxy(t, o)
    for i in range(4):
        r = get(p.port, "/r%d" % i)
        check(r.status == 200 and r.body == b"fresh", "request %d retried: %d" % (i, r.status))
    check(o.connections >= 4, "a fresh upstream connection per retry: %d" % o.connections)
    check(p.event_lines() == [], "no upstream_error events")


def scenario_connect_refused(t):
    o = t.origin()
    p = _proxy(t, o)
    _rejected(t, p, o, b"CONNECT internal.example:22 HTTP/1.1\r\nHost: internal.example:22\r\n\r\n", 501,
              "CONNECT")
