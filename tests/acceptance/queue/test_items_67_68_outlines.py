"""Checklist items 67 and 68: the real clients pass the section 13 outlines, check by check.

Item 67: scirocco-pyclient 1.0.0 and the v1 outline (50 checks). Item 68: the 2.1.3 DAO layer
and the v2 outline (15 checks). Each outline runs once, in its own venv, against one server:
later checks use the ids earlier ones produced.
"""

import contextlib

import pytest

import outline_v1
import outline_v2
from checks import parse_results
from conftest import run_script
from relay_server import RelayServer

# generation -> (outline module, number of checks the spec lists)
OUTLINES = {"v1": (outline_v1, 50), "v2": (outline_v2, 15)}


@pytest.fixture(scope="module")
def outline_run():
    runs = {}
    with contextlib.ExitStack() as stack:
        def run(generation):
            if generation not in runs:
                s = stack.enter_context(RelayServer())
                proc = run_script(generation, "outline_%s.py" % generation, s.url, s.token)
                runs[generation] = (proc, parse_results(proc.stdout), s.stderr())
            return runs[generation]
        yield run


@pytest.mark.parametrize("generation,check",
                         [(g, c) for g, (module, _) in sorted(OUTLINES.items()) for c in module.CHECKS])
def test_items_67_68_outline(outline_run, generation, check):
    proc, results, server_log = outline_run(generation)
    assert check in results, ("outline_%s.py produced no result for this check (exit %s)\nstderr:\n%s"
                              "\nserver stderr:\n%s" % (generation, proc.returncode, proc.stderr, server_log))
    ok, detail = results[check]
    assert ok, detail


@pytest.mark.parametrize("generation", sorted(OUTLINES))
def test_items_67_68_outline_count(outline_run, generation):
    module, expected = OUTLINES[generation]
    proc, _, _ = outline_run(generation)
    assert len(module.CHECKS) == expected
    assert proc.stderr.strip().endswith("%d passed, 0 failed" % expected), proc.stderr
