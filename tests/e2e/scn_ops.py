"""Operations: reload, config check, TLS with SNI, the event-log cap, drain."""
import glob
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

from harness import MAMORI, RULES_DIR, check, connect, free_port, get, read_response, rules_args


def _conf(t, o, rule_text, extra=""):
    rules = t.write("site.conf", rule_text)
    return t.write("m.conf", "upstream 127.0.0.1:%d\ncrs off\nrules %s\n%s" % (o.port, rules, extra))


def _wait_for(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def scenario_reload_good_config(t):
    o = t.origin()
    cfg = _conf(t, o, 'SecRule REQUEST_URI "@contains /old" "id:1,phase:1,deny,log"\n')
    p = t.proxy([], config=cfg)
    check(get(p.port, "/old").status == 403 and get(p.port, "/new").status == 200, "first rules")
    # a request in flight across the reload finishes on the old generation
    s = connect(p.port)
    s.sendall(b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab")
    _conf(t, o, 'SecRule REQUEST_URI "@contains /new" "id:2,phase:1,deny,log"\n')
    p.signal(signal.SIGHUP)
    check(_wait_for(lambda: "reloaded" in p.stderr()), "reload logged: " + p.stderr())
    check(get(p.port, "/old").status == 200 and get(p.port, "/new").status == 403, "new rules active")
    s.sendall(b"cd")
    r, _ = read_response(s)
    check(r.status == 200, "in-flight request finished across the reload: %d" % r.status)
    s.close()


def scenario_reload_bad_config_keeps_running(t):
    o = t.origin()
    cfg = _conf(t, o, 'SecRule REQUEST_URI "@contains /old" "id:1,phase:1,deny,log"\n')
    p = t.proxy([], config=cfg)
    _conf(t, o, 'SecRule REQUEST_URI "@nosuchop /x" "id:2,phase:1,deny,log"\n')
    p.signal(signal.SIGHUP)
    check(_wait_for(lambda: "reload failed" in p.stderr()), "failure logged: " + p.stderr())
    check(get(p.port, "/old").status == 403, "old rules still active")
    with open(cfg, "a") as f:
        f.write("bogus-directive 1\n")
    p.signal(signal.SIGHUP)
    check(_wait_for(lambda: p.stderr().count("reload failed") >= 2), "second failure logged")
    check(":4: unknown directive" in p.stderr(), "file:line in the log: " + p.stderr())
    check(get(p.port, "/old").status == 403 and p.proc.poll() is None, "still serving")


def scenario_config_check(t):
    o = t.origin()
    good = _conf(t, o, 'SecRule ARGS "@contains x" "id:1,phase:2,deny,log"\n')
    r = subprocess.run([MAMORI, "config", "check", good], capture_output=True, text=True)
    check(r.returncode == 0 and "ok" in r.stdout, "good config: %r %r" % (r.stdout, r.stderr))
    bad = t.write("bad.conf", "upstream 127.0.0.1:1\n# comment\nlisten nowhere\nparanoia 9\nheader-timeout soon\n")
    r = subprocess.run([MAMORI, "config", "check", bad], capture_output=True, text=True)
    check(r.returncode == 1, "bad config exits 1")
    for line in (":3: listen", ":4: paranoia", ":5: header-timeout"):
        check(bad + line in r.stderr, "%s reported: %r" % (line, r.stderr))
    badrules = _conf(t, o, 'SecRule ARGS "@bogus x" "id:1,phase:2,deny"\n')
    r = subprocess.run([MAMORI, "config", "check", badrules], capture_output=True, text=True)
    check(r.returncode == 1 and "site.conf:1:" in r.stderr, "rule error with file:line: %r" % r.stderr)


def _cert(t, name):
    key, crt = t.path(name + ".key"), t.path(name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:" + name], check=True, capture_output=True)
    return crt, key


def _tls_get(port, name, cafile, min_version=None, max_version=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname=name)
    cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
    s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % name.encode())
    r, _ = read_response(s)
    ver = s.version()
    s.close()
    return cn, r, ver


def scenario_tls_two_names(t):
    o = t.origin()
    a_crt, a_key = _cert(t, "a.test")
    b_crt, b_key = _cert(t, "b.test")
    port = free_port()
    cfg = t.write("m.conf", "listen 127.0.0.1:%d tls\nupstream 127.0.0.1:%d\ntls-cert a.test %s %s\n"
                  "tls-cert b.test %s %s\n" % (port, o.port, a_crt, a_key, b_crt, b_key))
    p = t.proxy(rules_args(), config=cfg, port=port, listen=False)
    cn, r, ver = _tls_get(port, "a.test", a_crt)
    check(cn == "a.test" and r.status == 200, "a.test served with its cert")
    check(r.header("Strict-Transport-Security") == "max-age=31536000", "HSTS on TLS: %r" % r.headers)
    cn, r, ver = _tls_get(port, "b.test", b_crt)
    check(cn == "b.test" and r.status == 200, "b.test served with its cert: %s" % cn)
    check(ver in ("TLSv1.3", "TLSv1.2"), ver)
    cn, r, ver = _tls_get(port, "b.test", b_crt, max_version=ssl.TLSVersion.TLSv1_2)
    check(ver == "TLSv1.2" and r.status == 200, "TLS 1.2 works")
    try:
        _tls_get(port, "a.test", a_crt, max_version=ssl.TLSVersion.TLSv1_1)
        ok = False
    except (ssl.SSLError, OSError):
        ok = True
    check(ok, "TLS 1.1 refused")
    check(o.requests[-1].header("X-Forwarded-Proto") == "https", "X-Forwarded-Proto https")


def scenario_event_log_cap_under_flood(t):
    o = t.origin()
    cap = 1 << 20
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\nevent-log-max-bytes %d\nevent-log-rotate-bytes 262144\n"
                  % (o.port, cap))
    p = t.proxy(rules_args(), config=cfg)
    total = 100000
    nthreads = 8
    errors = []
    # keep-alive does not survive a block (the connection closes), so each
    # request is a fresh connection; loopback handles that quickly
    req = b"GET /?q=attack HTTP/1.1\r\nHost: a\r\n\r\n"

    def worker(n):
        try:
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
                s.sendall(req)
                d = s.recv(64)
                if not d.startswith(b"HTTP/1.1 403"):
                    errors.append(d)
                    return
                s.close()
        except OSError as e:
            errors.append(repr(e))
    th = [threading.Thread(target=worker, args=(total // nthreads,)) for _ in range(nthreads)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    check(not errors, "every flood request blocked: %r" % errors[:3])
    files = glob.glob(p.events + "*")
    size = sum(os.path.getsize(f) for f in files)
    check(size <= cap, "event log on disk %d <= cap %d (%d files)" % (size, cap, len(files)))
    check(any(f.endswith(".zst") for f in files), "rotated files are zstd: %r" % files)
    with open(p.events, "rb") as f:
        last = f.read().splitlines()[-1]
    check(b'"event.action":"blocked"' in last, "the live file holds the latest events")


def scenario_sigterm_drains(t):
    def h(r):
        time.sleep(1)
        return (200, [], b"slow but complete")
    o = t.origin(h)
    cfg = t.write("m.conf", "upstream 127.0.0.1:%d\n" % o.port)
    p = t.proxy(rules_args(), config=cfg)
    s = connect(p.port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    time.sleep(0.3)
    p.signal(signal.SIGTERM)
    r, _ = read_response(s)
    check(r.status == 200 and r.body == b"slow but complete", "in-flight request finished")
    check(r.header("Connection") == "close", "told the client we are closing")
    p.proc.wait(5)
    check(p.proc.returncode == 0, "clean exit: %r" % p.proc.returncode)
    try:
        socket.create_connection(("127.0.0.1", p.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    check(refused, "no longer accepting")


def scenario_privilege_drop(t):
    import pwd
    if os.geteuid() != 0:
        return  # needs root: nothing to drop otherwise
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return
    o = t.origin()
    port = free_port()
    state = t.path("state-priv")
    p = subprocess.Popen([MAMORI, "run", "--listen", "127.0.0.1:%d" % port, "--upstream",
                          "127.0.0.1:%d" % o.port, "--workers", "1", "--state-dir", state,
                          "--user", "nobody"] + rules_args(), stderr=subprocess.PIPE)
    t.cleanups.append(lambda: (p.terminate(), p.wait(5)))
    from harness import wait_port
    check(wait_port(port, proc=p), "started")
    with open("/proc/%d/status" % p.pid) as f:
        st = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
    check(st["Uid"].split() == ["65534"] * 4, "uid dropped: %s" % st["Uid"])
    check(st["Gid"].split()[0] != "0" and st["Groups"].strip() == "", "gid and groups dropped")
    check(st["NoNewPrivs"].strip() == "1", "no_new_privs set")
    check(get(port, "/?q=attack").status == 403, "serving after the drop")
    check(os.stat(os.path.join(state, "events.json")).st_uid == 65534, "log owned by the user")
    # as root without --user (and without --allow-root): refuse
    port2 = free_port()
    r = subprocess.run([MAMORI, "run", "--listen", "127.0.0.1:%d" % port2, "--upstream",
                        "127.0.0.1:%d" % o.port, "--workers", "1", "--state-dir", t.path("s2")]
                       + rules_args(), capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "refusing to serve as root" in r.stderr, "refuses root: %r" % r.stderr)


def scenario_access_log_and_ipv6(t):
    o = t.origin()
    port = free_port()
    acc = t.path("access.json")
    have6 = True
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        have6 = False
    listen = "listen 127.0.0.1:%d\n" % port
    port6 = free_port()
    if have6:
        listen += "listen [::1]:%d\n" % port6
    cfg = t.write("m.conf", "%supstream 127.0.0.1:%d\naccess-log %s\n" % (listen, o.port, acc))
    p = t.proxy(rules_args(), config=cfg, port=port, listen=False)
    check(get(port, "/a").status == 200 and get(port, "/?q=attack").status == 403, "served")
    if have6:
        s = socket.create_connection(("::1", port6), timeout=5)
        s.sendall(b"GET /v6 HTTP/1.1\r\nHost: a\r\n\r\n")
        r, _ = read_response(s)
        s.close()
        check(r.status == 200, "IPv6 listener")
        check(o.requests[-1].header("X-Real-IP") == "::1", "IPv6 client address forwarded")
    import json as _j
    with open(acc) as f:
        lines = [_j.loads(l) for l in f]
    check([l["http.response.status_code"] for l in lines][:2] == [200, 403], "access log lines: %r" % lines)
