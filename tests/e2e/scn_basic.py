"""The WAF in the path: passing, blocking, detection-only, the phases, drop."""
import socket

from harness import check, closed_by_peer, connect, get, read_response, request, rules_args


def html(body):
    return lambda r: (200, [("Content-Type", "text/html")], body)


def scenario_pass_and_block(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    r = get(p.port, "/search?q=shoes")
    check(r.status == 200 and r.body == b"ok\n", "ordinary request passes: %s" % r.raw)
    r = get(p.port, "/search?q=attack")
    check(r.status == 403, "attack blocked: %d" % r.status)
    ev = [e for e in p.event_lines() if e["event.action"] == "blocked"]
    check(len(ev) == 1, "one blocked event: %r" % p.event_lines())
    e = ev[0]
    check(e["event.id"].encode() in r.body, "page carries the event id")
    check(b"100001" not in r.body and b"SecRule" not in r.body, "no internals on the page")
    check(e["http.response.status_code"] == 403 and e["url.original"] == "/search?q=attack", "event fields")
    check(e["client.ip"] == "127.0.0.1" and e["http.request.method"] == "GET", "client and method")
    check("100001" in e["rule.id"] and e["mamori.matches"][0]["var"].startswith("ARGS"), "matches")
    check(len(o.requests) == 1, "the blocked request never reached the origin")


def scenario_crs_blocks_sqli(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port])  # default: engine base + CRS
    r = get(p.port, "/item?id=1%27%20union%20select%20password%20from%20users--")
    check(r.status == 403, "CRS blocks SQL injection: %d" % r.status)
    r = get(p.port, "/item?id=42")
    check(r.status == 200, "CRS lets an ordinary request through: %d" % r.status)
    ev = p.event_lines()
    check(any(e["event.action"] == "blocked" and e["mamori.scores.inbound"] >= 5 for e in ev), "score logged")


def scenario_detection_only(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port, "--detection-only"] + rules_args())
    r = get(p.port, "/search?q=attack")
    check(r.status == 200, "detection-only never blocks: %d" % r.status)
    r = get(p.port, "/search?q=fine")
    ev = p.event_lines()
    check(len(ev) == 1 and ev[0]["event.action"] == "detected", "one detected event: %r" % ev)
    check(ev[0]["http.response.status_code"] == 200, "status of the passed request")


def scenario_logged_match_in_blocking_mode_is_not_an_event(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    r = get(p.port, "/?a=noted")
    check(r.status == 200, "pass rule passes")
    check(p.event_lines() == [], "only blocks are events in blocking mode")


def scenario_post_body_phase2(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    body = b"name=bob&comment=" + b"x" * 5000 + b"attack"
    r = get(p.port, "/form", [("Content-Type", "application/x-www-form-urlencoded")], "POST", body)
    check(r.status == 403, "body inspected in phase 2: %d" % r.status)
    body = b"name=bob&comment=" + b"y" * 100000
    r = get(p.port, "/form", [("Content-Type", "application/x-www-form-urlencoded")], "POST", body)
    check(r.status == 200, "a clean 100 KB form passes: %d" % r.status)
    check(o.requests[-1].body == body, "the origin got the whole body")


def scenario_chunked_request_body(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    raw = (b"POST /up HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
           b"4\r\na=he\r\n5\r\nllo&b\r\n3\r\n=ok\r\n0\r\n\r\n")
    r = request(p.port, raw)
    check(r.status == 200, "chunked body accepted: %d %r" % (r.status, r.body))
    q = o.requests[-1]
    check(q.body == b"a=hello&b=ok" and q.header("Content-Length") == "12", "de-chunked to the origin")
    check(q.header("Transfer-Encoding") is None, "no TE upstream")
    raw = raw.replace(b"4\r\na=he\r\n5\r\nllo&b", b"4\r\na=at\r\n5\r\ntack&")
    r = request(p.port, raw)
    check(r.status == 403, "attack inside chunks blocked: %d" % r.status)


def scenario_phase1_blocks_before_body(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    s = connect(p.port)
    # headers only; the body is never sent: phase 1 must answer anyway
    s.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nX-Phase1: block\r\nContent-Length: 100000\r\n\r\n")
    r, _ = read_response(s)
    check(r.status == 403, "phase 1 block before the body: %d" % r.status)
    check(closed_by_peer(s), "connection closed after the block")
    s.close()


def scenario_phase3_and_phase4_block(t):
    def h(r):
        if r.target == "/leak":
            return (200, [("Content-Type", "text/html")], b"<p>SECRET-LEAK</p>")
        if r.target == "/badhdr":
            return (200, [("Content-Type", "text/html"), ("X-Bad", "yes")], b"fine")
        if r.target == "/bin":
            return (200, [("Content-Type", "application/octet-stream")], b"SECRET-LEAK")
        return (200, [("Content-Type", "text/html")], b"<p>fine</p>")
    o = t.origin(h)
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    r = get(p.port, "/leak")
    check(r.status == 403 and b"SECRET" not in r.body, "phase 4 replaces the response: %r" % r.raw)
    r = get(p.port, "/badhdr")
    check(r.status == 403, "phase 3 block: %d" % r.status)
    r = get(p.port, "/bin")
    check(r.status == 200 and r.body == b"SECRET-LEAK", "uninspected type streams through")
    r = get(p.port, "/ok")
    check(r.status == 200 and r.body == b"<p>fine</p>", "inspected and passed")


def scenario_drop_closes(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    s = connect(p.port)
    s.sendall(b"GET /drop HTTP/1.1\r\nHost: a\r\n\r\n")
    s.settimeout(5)
    try:
        d = s.recv(100)
    except ConnectionResetError:
        d = b""
    check(d == b"", "drop closes without an answer: %r" % d)
    check(any(e["event.action"] == "blocked" for e in p.event_lines()), "drop is an event")


def scenario_large_responses(t):
    big_bin = bytes(range(256)) * 40000  # ~10 MB
    big_html = (b"<p>" + b"z" * 1000 + b"</p>\n") * 1000  # ~1 MB, past the inspection limit
    def h(r):
        if r.target == "/bin":
            return (200, [("Content-Type", "application/octet-stream")], big_bin)
        if r.target == "/chunked":
            body = b"".join(b"%x\r\n%s\r\n" % (len(big_html[i:i + 7000]), big_html[i:i + 7000])
                            for i in range(0, len(big_html), 7000)) + b"0\r\n\r\n"
            return (200, [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")], body)
        return (200, [("Content-Type", "text/html")], big_html)
    o = t.origin(h)
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    r = get(p.port, "/bin")
    check(r.status == 200 and r.body == big_bin, "10 MB binary intact")
    r = get(p.port, "/html")
    check(r.status == 200 and r.body == big_html, "1 MB html intact (partial inspection)")
    r = get(p.port, "/chunked")
    check(r.status == 200 and r.body == big_html, "chunked html intact")


def scenario_head_request(t):
    o = t.origin(html(b"<p>hello</p>"))
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    s = connect(p.port)
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
    r, rest = read_response(s, head_only=True)
    check(r.status == 200 and r.header("Content-Length") == "12", "HEAD keeps the length: %r" % r.raw)
    s2 = rest
    # the next response follows directly (no body after HEAD)
    while b"\r\n\r\n" not in s2:
        s2 += s.recv(65536)
    check(s2.startswith(b"HTTP/1.1 200"), "pipelined GET answered after HEAD")
    s.close()


def scenario_forwarded_headers(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    get(p.port, "/", [("X-Forwarded-For", "6.6.6.6"), ("X-Real-IP", "6.6.6.6")])
    q = o.requests[-1]
    check(q.header("X-Forwarded-For") == "127.0.0.1", "spoofed XFF replaced: %r" % q.headers)
    check(q.header("X-Real-IP") == "127.0.0.1" and q.header("X-Forwarded-Proto") == "http", "real ip/proto")


def scenario_trusted_proxy_client_ip(t):
    o = t.origin()
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\ntrusted-proxy 127.0.0.0/8\n" % o.port)
    p = t.proxy(rules_args(), config=cfg)
    r = get(p.port, "/?q=attack", [("X-Forwarded-For", "203.0.113.9, 127.0.0.5")])
    check(r.status == 403, "blocked")
    ev = p.event_lines()[-1]
    check(ev["client.ip"] == "203.0.113.9", "client ip from XFF behind a trusted proxy: %r" % ev["client.ip"])
    check(ev["source.ip"] == "127.0.0.1", "source is the socket peer")
    get(p.port, "/", [("X-Forwarded-For", "203.0.113.9")])
    q = o.requests[-1]
    check(q.header("X-Forwarded-For") == "203.0.113.9, 127.0.0.1", "XFF appended: %r" % q.header("X-Forwarded-For"))
    check(q.header("X-Real-IP") == "203.0.113.9", "X-Real-IP is the client")


def scenario_redirect_action(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    r = get(p.port, "/redir")
    check(r.status == 302 and r.header("Location") == "https://example.test/blocked",
          "redirect answered: %r" % r.raw)
    check(len(o.requests) == 0, "not forwarded")


def scenario_expect_100_continue(t):
    o = t.origin()
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    s = connect(p.port)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: 7\r\nExpect: 100-continue\r\n\r\n")
    r, rest = read_response(s, head_only=True)
    check(r.status == 100, "100 Continue after phase 1: %r" % r.raw)
    s.sendall(b"a=b&c=d")
    buf = rest
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    check(buf.startswith(b"HTTP/1.1 200"), "then the answer: %r" % buf[:40])
    check(o.requests[-1].body == b"a=b&c=d" and o.requests[-1].header("Expect") is None,
          "body forwarded without Expect")
    s.close()
    # blocked in phase 1: no 100, the 403 comes at once
    s = connect(p.port)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: a\r\nX-Phase1: block\r\nContent-Length: 7\r\n"
              b"Expect: 100-continue\r\n\r\n")
    r, _ = read_response(s)
    check(r.status == 403, "phase 1 block instead of 100: %d" % r.status)
    s.close()


def scenario_concurrent_keepalive_clients_get_their_own_answers(t):
    # the proxy writes a batch's requests upstream after the batch: under
    # load every client must still get the answer to its own request
    import threading
    o = t.origin(lambda r: (200, [("Content-Type", "text/plain")], r.target.encode() + b"\n"))
    p = t.proxy(["--upstream", "127.0.0.1:%d" % o.port] + rules_args())
    errors = []

    def client(i):
        try:
            s = connect(p.port)
            for j in range(40):
                attack = j % 7 == 3
                path = "/c%d/r%d?q=%s" % (i, j, "attack" if attack else "fine")
                s.sendall(("GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path).encode())
                r, rest = read_response(s)
                want = 403 if attack else 200
                if r is None or r.status != want or rest or \
                        (not attack and r.body != path.encode() + b"\n"):
                    errors.append("client %d request %d: %s" % (i, j, r and (r.status, r.body[:60])))
                    return
                if (r.header("Connection") or "").lower() == "close":
                    s.close()  # a block ends the connection
                    s = connect(p.port)
            s.close()
        except OSError as e:
            errors.append("client %d: %s" % (i, e))

    th = [threading.Thread(target=client, args=(i,)) for i in range(48)]
    for x in th:
        x.start()
    for x in th:
        x.join(60)
    check(not errors, "every answer matches its request: %s" % errors[:3])
    passed = 48 * sum(1 for j in range(40) if j % 7 != 3)
    check(len(o.requests) == passed, "the origin saw each passed request once: %d" % len(o.requests))
