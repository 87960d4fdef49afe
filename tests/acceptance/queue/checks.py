"""A tiny recorder for the section-13 outlines: named checks in a fixed order, one JSON line each.

The outlines are scenarios (later checks need the ids that earlier ones produced), so a failing
check is recorded and the run goes on; pytest then reports every check on its own.
Stdlib only: this module is imported by both client venvs and by pytest.
"""

import json
import sys
import traceback
from urllib.parse import urlparse


class Checks:
    def __init__(self, names, out=sys.stdout):
        self.names = list(names)
        self.out = out
        self.results = {}

    def run(self, name, fn):
        """Runs fn(); a falsy return, an AssertionError or any exception fails the check."""
        assert name in self.names and name not in self.results, name
        try:
            value = fn()
            ok, detail = value is not False, ("returned False" if value is False else "")
        except AssertionError as e:
            ok, detail = False, "assertion failed: %s" % (e or traceback.format_exc(limit=2))
        except Exception as e:  # a client crash is a failed check, not an aborted run
            ok, detail = False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc(limit=4))
        self.results[name] = (ok, detail)
        self.out.write(json.dumps({"check": name, "ok": ok, "detail": detail}) + "\n")
        self.out.flush()
        return ok

    def finish(self):
        for name in self.names:
            if name not in self.results:
                self.run(name, _not_reached)
        failed = sum(1 for ok, _ in self.results.values() if not ok)
        sys.stderr.write("%d passed, %d failed\n" % (len(self.names) - failed, failed))
        return 1 if failed else 0


def _not_reached():
    raise AssertionError("the outline stopped before this check")


def raises(fn, status=None):
    """Asserts fn() raises the client's DAO error (for the given HTTP status, when known)."""
    try:
        fn()
    except Exception as e:
        if status is not None and not str(e).endswith(" %d" % status):
            raise AssertionError("expected status %d, client raised %r" % (status, e))
        return True
    raise AssertionError("the call did not raise")


def parse_results(stdout):
    results = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            results[rec["check"]] = (rec["ok"], rec["detail"])
    return results


class Missing:
    """Stands in for a response whose call raised, so dependent checks fail with the cause."""

    def __init__(self, err):
        self.err = err

    def __getattr__(self, name):
        raise AssertionError("the earlier call failed: %r" % (self.err,))

    def __iter__(self):
        return self.__getattr__("__iter__")


def attempt(fn):
    try:
        return fn()
    except Exception as e:
        return Missing(e)


def eq(got, want):
    if got != want:
        raise AssertionError("got %r, want %r" % (got, want))
    return True


def fail(what):
    raise AssertionError("got %r" % (what,))


def check_loopback(url):
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing non-loopback URL %s" % url)
