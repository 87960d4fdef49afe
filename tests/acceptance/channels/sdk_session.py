"""pytest hooks of every suite that runs the Moobius SDK against `relay serve` (the channel and
the web page suites load it with `pytest_plugins`): a clear usage error without RELAY_BIN, and
an exit that does not wait for the SDK's stuck worker threads."""

import os
import sys

import pytest

from relaytest import RELAY_BIN


def pytest_configure(config):
    if not RELAY_BIN or not os.path.exists(RELAY_BIN):
        raise pytest.UsageError("set RELAY_BIN to the relay binary")


# None until the session finished: a run stopped before it (a usage error) exits as pytest
# says, with no SDK thread to wait for yet.
_exit_status = [None]


def pytest_sessionfinish(session, exitstatus):
    _exit_status[0] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if _exit_status[0] is None:
        return
    # The Moobius SDK leaves thread-pool workers blocked on multiprocessing queues; Python's
    # normal exit joins them and would wait forever. The summary is printed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status[0])
