"""The one patch the real SDK needs to reach a plain ws:// server (spec 10.2): moobius always
passes an `ssl` context to `websockets.connect`, which websockets refuses for ws:// URIs."""

import asyncio
import json

import websockets

import moobius.network.ws_client as _ws_client

from recording import EchoBase, Recording, events  # noqa: F401  (the tests take them from here)
from relaytest import assert_frame_shape


class _WebsocketsShim:
    def __getattr__(self, name):
        return getattr(websockets, name)

    @staticmethod
    def connect(uri, ssl=None, **kw):
        if uri.startswith("wss://"):
            kw["ssl"] = ssl
        return websockets.connect(uri, **kw)


_ws_client.websockets = _WebsocketsShim()


def configs(server, email, password, service_mode, channels):
    service_config = {
        "http_server_uri": server.http,
        "ws_server_uri": server.ws,
        "service_id": "",
        "channels": channels,
        "service_mode": service_mode,
        "checkin_interval": 0,
        "no_warn_cannot_save_service_id": True,
    }
    return dict(
        service_config=service_config,
        account_config={"email": email, "password": password},
        # ERROR, as the SDK's default user has it: at INFO its logging slows it down enough to
        # hide races of its reconnects (docs/channels.md, "Reconnect races of the SDK").
        log_config={"terminal_log_level": "ERROR", "error_log_file": None},
    )


def record_raw(instance):
    """Captures every raw frame the instance receives (spec 10.5), then lets the SDK handle it."""
    frames = []
    original = instance.ws_client.handle

    async def handle(message):
        try:
            frames.append(json.loads(message))
        except Exception:
            frames.append(message)
        return await original(message)

    instance.ws_client.handle = handle
    return frames


async def stop(tasks, instances, raws):
    """Checks the shape of every raw frame the instances got, then stops them: their tasks,
    their schedulers, and the worker thread each SDK instance leaves blocked on a
    multiprocessing queue waiting for "spells" (it would keep the interpreter from exiting)."""
    for raw in raws:
        for f in raw:
            if isinstance(f, dict):
                assert_frame_shape(f)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for inst in instances:
        try:
            inst.scheduler.shutdown(wait=False)
        except Exception:
            pass
        inst.queue.put(None)


def echo_room(server):
    """The scenario's cast: accounts owner@example.com (owner-pw) and user@example.com
    (user-pw), and the owner's channel "Echo". Returns the owner's token and the channel id."""
    server.add_account("owner@example.com", "owner-pw", "Owner")
    server.add_account("user@example.com", "user-pw", "User")
    t_owner = server.sign_in("owner@example.com", "owner-pw")
    ch = server.ok("POST", "/channel/create", {"channel_name": "Echo", "context": {"channel_description": "echo room"}}, t_owner)["channel_id"]
    return t_owner, ch
