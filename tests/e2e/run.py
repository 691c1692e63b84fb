#!/usr/bin/env python3
"""Runs every e2e scenario (tests/e2e/scn_*.py: functions scenario_*).
usage: run.py [-k SUBSTRING] [--keep]   (MAMORI=path/to/mamori)
Last line: "e2e: N passed, N failed"."""
import importlib
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True  # keep tests/e2e free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    args = sys.argv[1:]
    pattern = None
    keep = "--keep" in args
    if "-k" in args:
        pattern = args[args.index("-k") + 1]
    if not os.access(harness.MAMORI, os.X_OK):
        print("e2e: %s is not built" % harness.MAMORI)
        print("e2e: 0 passed, 1 failed")
        return 1
    here = os.path.dirname(os.path.abspath(__file__))
    scenarios = []
    for f in sorted(os.listdir(here)):
        if f.startswith("scn_") and f.endswith(".py"):
            m = importlib.import_module(f[:-3])
            for name in sorted(dir(m)):
                if name.startswith("scenario_"):
                    scenarios.append((f[:-3] + "." + name[9:], getattr(m, name)))
    passed = failed = 0
    for name, fn in scenarios:
        if pattern and pattern not in name:
            continue
        t = harness.Test(name)
        t0 = time.time()
        ok = False
        try:
            fn(t)
            ok = True
        except harness.Fail as e:
            msg = str(e)
        except Exception:
            msg = traceback.format_exc()
        for c in reversed(t.cleanups):
            try:
                c()
            except Exception:
                pass
        t.cleanups = []
        if ok and t.sanitizer:
            ok = False
            msg = "sanitizer report:\n" + t.sanitizer[0]
        dt = time.time() - t0
        if ok:
            passed += 1
            print("PASS %-40s %.2fs" % (name, dt), flush=True)
        else:
            failed += 1
            print("FAIL %-40s %.2fs: %s" % (name, dt, msg), flush=True)
            if keep:
                print("     kept %s" % t.dir)
        t.close(keep=keep and not ok)
    print("e2e: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
