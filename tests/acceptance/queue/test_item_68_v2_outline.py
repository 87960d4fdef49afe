"""Checklist item 68: scirocco-pyclient 2.1.3 DAO layer passes the section 13 v2 outline, check by check."""

import pytest

import outline_v2
from checks import parse_results
from conftest import run_script
from relay_server import RelayServer


@pytest.fixture(scope="module")
def outline_run():
    # One server for the whole scenario: later checks use the ids earlier ones produced.
    with RelayServer() as s:
        proc = run_script("v2", "outline_v2.py", s.url, s.token)
        yield proc, parse_results(proc.stdout), s.stderr()


@pytest.mark.parametrize("check", outline_v2.CHECKS)
def test_item_68_v2_outline(outline_run, check):
    proc, results, server_log = outline_run
    assert check in results, ("outline_v2.py produced no result for this check (exit %s)\nstderr:\n%s"
                              "\nserver stderr:\n%s" % (proc.returncode, proc.stderr, server_log))
    ok, detail = results[check]
    assert ok, detail


def test_item_68_v2_outline_count(outline_run):
    proc, results, _ = outline_run
    assert len(outline_v2.CHECKS) == 15
    assert proc.stderr.strip().endswith("15 passed, 0 failed"), proc.stderr
