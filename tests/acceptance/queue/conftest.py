"""Fixtures: a fresh `relay serve` per test (or per outline run), and the two client venvs.

pytest runs in the v1 venv, so the 1.0.0 client is imported directly; the 2.1.3 client lives in
the v2 venv and is driven through scripts run with that venv's python.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from relay_server import REPO, RelayServer  # noqa: E402

SCRIPT_TIMEOUT = 120


def venv_python(name):
    env_dir = os.environ.get("QUEUE_%s_VENV" % name.upper()) or str(REPO / ".test-env" / ("queue-" + name))
    return str(pathlib.Path(env_dir) / "bin" / "python")


def run_script(venv, script, *args):
    """Runs a script of this folder with a venv's python; returns the CompletedProcess."""
    return subprocess.run([venv_python(venv), str(HERE / script), *args], cwd=str(HERE),
                          capture_output=True, text=True, timeout=SCRIPT_TIMEOUT)


@pytest.fixture
def server():
    with RelayServer() as s:
        yield s


class V2Node:
    """One node speaking the v2 dialect through the real 2.1.3 client (a subprocess per call)."""

    def __init__(self, server, node):
        self.server, self.node = server, node

    def _run(self, op, args):
        p = run_script("v2", "v2_node.py", self.server.url, self.server.token, self.node, op, *args)
        lines = p.stdout.strip().splitlines()
        assert p.returncode == 0 and lines, "v2_node.py %s failed:\n%s\n%s" % (op, p.stdout, p.stderr)
        return json.loads(lines[-1])

    def call(self, op, *args):
        out = self._run(op, args)
        assert out["ok"], "v2 client %s %r raised: %s" % (op, args, out["error"])
        return out["result"]

    def call_raises(self, op, *args):
        out = self._run(op, args)
        assert not out["ok"], "v2 client %s %r should have raised, got %r" % (op, args, out["result"])
        return out["error"]


@pytest.fixture
def v2_node(server):
    return lambda node: V2Node(server, node)
