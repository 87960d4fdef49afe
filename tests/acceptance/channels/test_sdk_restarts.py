"""The real moobius 1.8.0 SDK through 20 server restarts in a row against one data directory:
after each, the service and the user must both end logged in on the socket they read, which a
message round trip (user -> service -> echo -> user) shows.

While the server is down both instances send a heartbeat, as the SDK's 30 s scheduler does when
it fires then: the SDK's send loop then reconnects beside its receive loop, so that two sockets
open at once, both logins go out on the newer one and the receive loop may be left reading the
older one, on which nothing is ever sent. The server closes such a silent socket after 10 s,
which makes the SDK reconnect and log in on the socket it reads (docs/channels.md, "Reconnect
races of the SDK"); without that it waited for the 60 s login deadline."""

import asyncio
import time

import sdkshim
from conftest import run, until
from sdkshim import events
from test_sdk_scenario import EchoService, User, frames

RESTARTS = 20


def test_real_sdk_logs_in_again_after_each_of_20_restarts(server):
    _, ch = sdkshim.echo_room(server)

    async def scenario():
        svc = EchoService(**sdkshim.configs(server, "owner@example.com", "owner-pw", True, [ch]))
        svc_raw = sdkshim.record_raw(svc)
        svc_task = asyncio.create_task(svc.start())
        await until(lambda: events(svc, "start"), 30, "service on_start")
        user = User(**sdkshim.configs(server, "user@example.com", "user-pw", False, [ch]))
        user_raw = sdkshim.record_raw(user)
        user_task = asyncio.create_task(user.start())
        uid = (await until(lambda: events(svc, "join"), 20, "join"))[0].sender

        relogin = lambda raw, n, kind: [f for f in frames(raw, "copy", since=n) if f["body"]["origin_type"] == kind and f["body"]["status"] is True]
        loop = asyncio.get_running_loop()
        took = []
        for i in range(RESTARTS):
            n_svc, n_user = len(svc_raw), len(user_raw)
            t0 = time.monotonic()
            # Every other one a crash (`kill -9`: no close frames), the others a clean stop.
            await loop.run_in_executor(None, server.crash if i % 2 == 0 else server.stop)
            await asyncio.sleep(0.2)
            await svc.send_heartbeat()
            await user.send_heartbeat()
            await asyncio.sleep(0.2)
            await loop.run_in_executor(None, server.start)
            await until(lambda: relogin(svc_raw, n_svc, "service_login"), 30, f"service re-login after restart {i}")
            await until(lambda: relogin(user_raw, n_user, "user_login"), 30, f"user re-login after restart {i}")
            # Logged in on the sockets they read: a message gets through and its echo back. The
            # SDK may still be replacing a socket (a message sent to the one it is leaving is
            # lost, as on the hosted platform), so it is sent again every 2 s.
            text = f"ping {i}"
            deadline = loop.time() + 30
            while not any(e.content.text == text + " (echo)" for e in events(user, "message_down")):
                assert loop.time() < deadline, f"no echo after restart {i}:\n{server.log()[-6000:]}"
                await user.send_message(text, ch, uid, [uid])
                try:
                    await until(lambda: any(e.content.text == text + " (echo)" for e in events(user, "message_down")), 2, "echo")
                except AssertionError:
                    pass
            took.append(round(time.monotonic() - t0, 1))
        print("seconds per restart until the echo:", took)
        await sdkshim.stop((svc_task, user_task), (svc, user), (svc_raw, user_raw))

    run(scenario(), timeout=600)
