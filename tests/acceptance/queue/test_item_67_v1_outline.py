"""Checklist item 67: scirocco-pyclient 1.0.0 passes the section 13 v1 outline, check by check."""

import pytest

import outline_v1
from checks import parse_results
from conftest import run_script
from relay_server import RelayServer


@pytest.fixture(scope="module")
def outline_run():
    # One server for the whole scenario: later checks use the ids earlier ones produced.
    with RelayServer() as s:
        proc = run_script("v1", "outline_v1.py", s.url, s.token)
        yield proc, parse_results(proc.stdout), s.stderr()


@pytest.mark.parametrize("check", outline_v1.CHECKS)
def test_item_67_v1_outline(outline_run, check):
    proc, results, server_log = outline_run
    assert check in results, ("outline_v1.py produced no result for this check (exit %s)\nstderr:\n%s"
                              "\nserver stderr:\n%s" % (proc.returncode, proc.stderr, server_log))
    ok, detail = results[check]
    assert ok, detail


def test_item_67_v1_outline_count(outline_run):
    proc, results, _ = outline_run
    assert len(outline_v1.CHECKS) == 50
    assert proc.stderr.strip().endswith("50 passed, 0 failed"), proc.stderr
