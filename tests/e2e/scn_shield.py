"""The bot shield in the request path: rate limits, IP lists, allowlist
exclusions, the proof-of-work challenge, bad-behaviour bans and reloads.

Second and third clients come from 127.0.0.2 and 127.0.0.3 (a socket bound
to another loopback address before it connects); Linux routes all of
127.0.0.0/8 to lo."""
import hashlib
import json
import re
import signal
import socket
import subprocess
import time
import urllib.parse

from harness import MAMORI, RULES_DIR, check, read_response, rules_args


def _req(port, path, src="127.0.0.1", headers=(), method="GET", accept="*/*"):
    """One request on a new connection from address src."""
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    h = "%s %s HTTP/1.1\r\nHost: app.test\r\nUser-Agent: e2e\r\nAccept: %s\r\n" % (method, path, accept)
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    try:
        s.sendall(h.encode("latin-1") + b"\r\n")
        r, _ = read_response(s)
        return r
    finally:
        s.close()


def _up(o):
    return ["--upstream", "127.0.0.1:%d" % o.port]


def _events(p, action=None):
    return [e for e in p.event_lines() if action is None or e.get("event.action") == action]


def _wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def scenario_rate_limit_429_other_client_passes(t):
    o = t.origin()
    p = t.proxy(_up(o) + rules_args("--rate-limit", "1r/m,burst=3"))
    for i in range(3):
        check(_req(p.port, "/a").status == 200, "request %d within the burst" % i)
    r = _req(p.port, "/a")
    check(r.status == 429, "over the limit: %d" % r.status)
    ra = r.header("Retry-After")
    check(ra is not None and int(ra) >= 1, "Retry-After: %r" % r.headers)
    body = json.loads(r.body)
    check(body.get("error") == "rate_limited", "JSON for an API client: %r" % r.body)
    check(r.header("Content-Type") == "application/json", r.header("Content-Type"))
    r = _req(p.port, "/a", accept="text/html,application/xhtml+xml,*/*;q=0.8")
    check(r.status == 429 and b"<!doctype html>" in r.body and b"try again" in r.body,
          "HTML page for a browser: %r" % r.body[:200])
    check(r.header("Content-Type").startswith("text/html"), r.header("Content-Type"))
    r = _req(p.port, "/a", src="127.0.0.2")
    check(r.status == 200, "another client still passes: %d" % r.status)
    check(len([q for q in o.requests if q.target == "/a"]) == 4, "429s never reach the origin")
    ev = _events(p, "rate_limited")
    check(ev and ev[0]["client.ip"] == "127.0.0.1" and ev[0]["http.response.status_code"] == 429,
          "rate_limited event: %r" % ev)


def scenario_rate_limit_keep_alive_and_path_rule(t):
    o = t.origin()
    p = t.proxy(_up(o) + rules_args("--rate-limit", "1r/m,burst=2,path=/login"))
    # a 429 keeps the connection: three requests on one socket
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    got = []
    rest = b""
    for _ in range(3):
        s.sendall(b"GET /login HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n")
        r, rest = read_response(s)
        got.append(r.status)
    s.close()
    check(got == [200, 200, 429], "burst of 2 on /login, then 429 on the same connection: %r" % got)
    check(_req(p.port, "/other").status == 200, "other paths are not limited")
    check(_req(p.port, "/LOGIN/x").status == 429, "the prefix is compared normalized")


def scenario_deny_and_tor_lists(t):
    o = t.origin()
    deny = t.write("deny.list", "# operator list\n127.0.0.2/32 ; SBL123\n203.0.113.0/24\n")
    tor = t.write("tor.txt", "ExitNode 0011\nExitAddress 127.0.0.3 2024-01-01 01:10:00\n")
    p = t.proxy(_up(o) + rules_args("--deny-list", deny, "--tor-list", tor))
    check(_req(p.port, "/").status == 200, "a clean client passes")
    r = _req(p.port, "/", src="127.0.0.2")
    check(r.status == 403 and r.header("Connection") == "close", "deny list: 403 and close: %r" % r.headers)
    r = _req(p.port, "/", src="127.0.0.3", accept="text/html")
    check(r.status == 403 and b"<html" in r.body, "Tor exit refused with a page: %d" % r.status)
    ev = _events(p, "denied_list")
    reasons = sorted(e["event.reason"] for e in ev)
    check(reasons == ["deny-list (SBL123)", "tor"], "events name the list and tag: %r" % reasons)


def scenario_tor_list_off_and_forwarded_client(t):
    o = t.origin()
    deny = t.write("deny.list", "203.0.113.0/24\n")
    tor = t.write("tor.txt", "127.0.0.3\n")
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\ncrs off\nrules %s/e2e.conf\ntor-list %s\n"
                  "block-tor off\ndeny-list %s\ntrusted-proxy 127.0.0.1\n"
                  % (o.port, RULES_DIR, tor, deny))
    p = t.proxy([], config=cfg)
    check(_req(p.port, "/", src="127.0.0.3").status == 200, "Tor list loaded but blocking off")
    # behind a trusted proxy the shield sees the forwarded client
    r = _req(p.port, "/", headers=[("X-Forwarded-For", "203.0.113.9")])
    check(r.status == 403, "forwarded client on the deny list: %d" % r.status)
    r = _req(p.port, "/", src="127.0.0.2", headers=[("X-Forwarded-For", "203.0.113.9")])
    check(r.status == 200, "X-Forwarded-For from an untrusted peer is ignored: %d" % r.status)
    ev = _events(p, "denied_list")
    check(ev and ev[0]["client.ip"] == "203.0.113.9", "event names the forwarded client: %r" % ev)


def scenario_allow_list_skips_rate_limit(t):
    o = t.origin()
    allow = t.write("office.list", "127.0.0.2\n")
    p = t.proxy(_up(o) + rules_args("--rate-limit", "1r/m,burst=1", "--allow-list", allow))
    check([_req(p.port, "/").status for _ in range(2)] == [200, 429], "others are limited")
    check([_req(p.port, "/", src="127.0.0.2").status for _ in range(4)] == [200] * 4,
          "allow-listed client is not limited")
    check(_req(p.port, "/?q=attack", src="127.0.0.2").status == 403, "the WAF still runs for it")


def scenario_allowlist_exclusion_false_positive(t):
    o = t.origin()
    excl = t.write("fp.allow", "# a wiki's edit form carries the marker legitimately\n"
                   "exact /wiki/edit rule 100001 target ARGS:text\n")
    p = t.proxy(_up(o) + rules_args("--allowlist", excl))
    check(_req(p.port, "/wiki/edit?text=attack").status == 200, "excluded false positive passes")
    check(_req(p.port, "/other?text=attack").status == 403, "same payload elsewhere is blocked")
    check(_req(p.port, "/wiki/edit?title=attack").status == 403, "other argument still checked")
    bad = t.write("bad.allow", "path /x rule 942100 target ARGS:a'b\n")
    r = subprocess.run([MAMORI, "run", "--no-crs", "--allowlist", bad, "--upstream", "127.0.0.1:9"],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode != 0 and bad + ":1:" in r.stderr, "bad exclusion refused with file:line: %r" % r.stderr)


def _page_params(body):
    m = re.search(rb'var N="([0-9a-f]+)",D=(\d+),U="([^"]+)",R="([^"]*)"', body)
    check(m is not None, "challenge page carries the puzzle: %r" % body[:300])
    return m.group(1).decode(), int(m.group(2)), m.group(3).decode(), m.group(4).decode()


def _zero_bits(h):
    n = 0
    for b in h:
        if b == 0:
            n += 8
            continue
        return n + 8 - b.bit_length()
    return n


def _solve(port, src="127.0.0.1", path="/page?x=1"):
    """Does what the page's JavaScript does; returns the 303 response."""
    r = _req(port, path, src=src, accept="text/html")
    check(r.status == 403 and b"Checking your browser" in r.body, "challenge page: %d" % r.status)
    check(r.header("Cache-Control") == "no-store", "page not cached")
    n, d, u, ret = _page_params(r.body)
    c = 0
    while _zero_bits(hashlib.sha256((n + str(c)).encode()).digest()) < d:
        c += 1
    q = "%s?n=%s&c=%d&r=%s" % (u, n, c, urllib.parse.quote(ret, safe="-_.!~*'()"))
    return _req(port, q, src=src, accept="text/html"), (n, c, u, ret)


def _cookie(r):
    sc = r.header("Set-Cookie") or ""
    m = re.match(r"mamori_pass=([^;]+);", sc)
    check(m is not None, "pass cookie set: %r" % r.headers)
    return m.group(1)


def scenario_challenge_round_trip(t):
    o = t.origin()
    p = t.proxy(_up(o) + rules_args("--challenge", "--challenge-difficulty", "10"))
    r = _req(p.port, "/api/x", accept="application/json")
    check(r.status == 403 and json.loads(r.body).get("reason") == "challenge-required",
          "non-HTML client without cookie: 403 JSON: %r" % r.body)
    r, (n, c, u, ret) = _solve(p.port)
    check(r.status == 303 and r.header("Location") == "/page?x=1", "solved: 303 back: %r" % r.headers)
    cookie = _cookie(r)
    check("HttpOnly" in r.header("Set-Cookie") and "SameSite=Lax" in r.header("Set-Cookie"), "cookie flags")
    r = _req(p.port, "/page?x=1", accept="text/html", headers=[("Cookie", "a=b; mamori_pass=" + cookie)])
    check(r.status == 200, "the cookie lets the browser through: %d" % r.status)
    check(any(q.target == "/page?x=1" for q in o.requests), "the origin saw the page request")
    check(not any(q.target.startswith("/.mamori") for q in o.requests), "challenge never proxied")
    r = _req(p.port, "/api/x", accept="application/json", headers=[("Cookie", "mamori_pass=" + cookie)])
    check(r.status == 200, "and a script holding the cookie")
    # the cookie is bound to the address
    r = _req(p.port, "/page", src="127.0.0.2", accept="text/html", headers=[("Cookie", "mamori_pass=" + cookie)])
    check(r.status == 403 and b"Checking your browser" in r.body, "cookie from another address: page again")
    # forged: flip one digit of the MAC
    exp, mac = cookie.split(".", 1)
    forged = exp + "." + ("0" if mac[0] != "0" else "1") + mac[1:]
    r = _req(p.port, "/page", accept="text/html", headers=[("Cookie", "mamori_pass=" + forged)])
    check(r.status == 403 and b"Checking your browser" in r.body, "forged cookie rejected")
    forged = str(int(exp) + 86400) + "." + mac
    r = _req(p.port, "/page", accept="application/json", headers=[("Cookie", "mamori_pass=" + forged)])
    check(r.status == 403, "a pushed-back expiry breaks the MAC")
    # a solution replayed from another address fails
    q = "%s?n=%s&c=%d&r=%%2F" % (u, n, c)
    r = _req(p.port, q, src="127.0.0.2", accept="application/json")
    check(r.status == 403 and r.header("Set-Cookie") is None, "replayed solution: %d" % r.status)
    acts = {e["event.action"] for e in _events(p)}
    check({"challenged", "challenge_solved", "challenge_failed"} <= acts, "challenge events: %r" % acts)


def scenario_challenge_cookie_expires(t):
    o = t.origin()
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\ncrs off\nrules %s/e2e.conf\nchallenge on\n"
                  "challenge-difficulty 6\nchallenge-cookie-ttl 1s\n" % (o.port, RULES_DIR))
    p = t.proxy([], config=cfg)
    r, _ = _solve(p.port, path="/")
    cookie = _cookie(r)
    check(_req(p.port, "/", accept="text/html", headers=[("Cookie", "mamori_pass=" + cookie)]).status == 200,
          "fresh cookie passes")
    time.sleep(2.2)
    r = _req(p.port, "/", accept="text/html", headers=[("Cookie", "mamori_pass=" + cookie)])
    check(r.status == 403 and b"Checking your browser" in r.body, "expired cookie: the page again")


def scenario_bad_behaviour_ban(t):
    origin = t.origin()
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\ncrs off\nrules %s/e2e.conf\nbans on\n"
                  "ban-threshold 30\nban-time 120s\n" % (origin.port, RULES_DIR))
    p = t.proxy([], config=cfg)
    check(_req(p.port, "/fine").status == 200, "clean start")
    got = [_req(p.port, "/?q=attack").status for _ in range(3)]
    check(got == [403, 403, 403], "three WAF blocks: %r" % got)
    check(_wait_for(lambda: _events(p, "banned")), "ban event written: %r" % _events(p))
    r = _req(p.port, "/fine")
    check(r.status == 403 and r.header("Retry-After") is not None, "banned: 403 + Retry-After: %r" % r.headers)
    ra = int(r.header("Retry-After"))
    check(100 <= ra <= 120, "Retry-After is the ban left: %d" % ra)
    check(_req(p.port, "/fine", src="127.0.0.2").status == 200, "another client unaffected")
    ev = _events(p, "banned")[0]
    check(ev["client.ip"] == "127.0.0.1" and ev["mamori.ban_seconds"] == 120, "ban event: %r" % ev)
    check(_events(p, "denied_banned"), "refusals while banned are events")
    check("banned 127.0.0.1 for 120 s" in p.stderr(), "ban in the log: " + p.stderr())


def scenario_shield_reload_list_change(t):
    o = t.origin()
    deny = t.write("deny.list", "127.0.0.2\n")
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\ncrs off\nrules %s/e2e.conf\ndeny-list %s\n"
                  "rate-limit 1r/m,burst=2\n" % (o.port, RULES_DIR, deny))
    p = t.proxy([], config=cfg)
    check(_req(p.port, "/", src="127.0.0.2").status == 403, "127.0.0.2 denied")
    check(_req(p.port, "/", src="127.0.0.3").status == 200, "127.0.0.3 passes")
    got = [_req(p.port, "/").status for _ in range(3)]
    check(got == [200, 200, 429], "127.0.0.1 uses its burst: %r" % got)
    t.write("deny.list", "127.0.0.3\n")
    p.signal(signal.SIGHUP)
    check(_wait_for(lambda: "reloaded" in p.stderr()), "reloaded: " + p.stderr())
    check("tables kept" in p.stderr(), "same shield settings: tables kept: " + p.stderr())
    check(_req(p.port, "/", src="127.0.0.3").status == 403, "new list: 127.0.0.3 denied")
    check(_req(p.port, "/", src="127.0.0.2").status == 200, "127.0.0.2 no longer denied")
    check(_req(p.port, "/").status == 429, "rate-limit state survived the reload")
    # a bad line refuses the whole reload
    t.write("deny.list", "127.0.0.4\n10.0.0.0/33\n")
    p.signal(signal.SIGHUP)
    check(_wait_for(lambda: "reload failed" in p.stderr()), "bad list refused: " + p.stderr())
    check("deny.list:2:" in p.stderr(), "file:line: " + p.stderr())
    check(_req(p.port, "/", src="127.0.0.3").status == 403, "old list still active")
    check(_req(p.port, "/", src="127.0.0.4").status == 200, "bad list not applied")
    # changed settings: a new shield, fresh buckets
    t.write("deny.list", "127.0.0.3\n")
    with open(cfg, "a") as f:
        f.write("rate-limit 100r/s\n")
    p.signal(signal.SIGHUP)
    check(_wait_for(lambda: p.stderr().count("reloaded") >= 2), "second reload: " + p.stderr())
    check(_req(p.port, "/").status == 200, "new settings: new buckets")


def scenario_shield_config_check(t):
    o = t.origin()
    deny = t.write("deny.list", "192.0.2.1\n")
    good = t.write("good.conf", "upstream 127.0.0.1:%d\ncrs off\nrate-limit 10r/s,burst=20\n"
                   "rate-limit 5r/m,burst=5 path /login\nrate-limit 100r/m header X-Api-Key\n"
                   "deny-list %s\nchallenge on\nchallenge-difficulty 14\nbans on\npath-allow /admin 10.0.0.0/8 %s\n"
                   % (o.port, deny, deny))
    r = subprocess.run([MAMORI, "config", "check", good], capture_output=True, text=True)
    check(r.returncode == 0 and "3 rate rules" in r.stdout and "deny 1" in r.stdout,
          "good shield config: %r %r" % (r.stdout, r.stderr))
    bad_list = t.write("bad.list", "192.0.2.1\nnot-an-address\n")
    bad = t.write("bad.conf", "upstream 127.0.0.1:1\ncrs off\nrate-limit fast\nrate-limit 10r/s path api\n"
                  "challenge-difficulty 40\ndeny-list /nonexistent/x\nban-time soon\n")
    r = subprocess.run([MAMORI, "config", "check", bad], capture_output=True, text=True)
    check(r.returncode == 1, "bad config exits 1")
    for line in (":3: rate-limit", ":4: rate-limit", ":5: challenge-difficulty", ":6: deny-list", ":7: ban-time"):
        check(bad + line in r.stderr, "%s reported: %r" % (line, r.stderr))
    badl = t.write("badl.conf", "upstream 127.0.0.1:1\ncrs off\ndeny-list %s\n" % bad_list)
    r = subprocess.run([MAMORI, "config", "check", badl], capture_output=True, text=True)
    check(r.returncode == 1 and bad_list + ":2:" in r.stderr, "bad list line with file:line: %r" % r.stderr)
