"""The SDK's bare `WSClient` (spec 10.3) against Relay: a service socket and a user socket built
from `moobius.network.ws_client.WSClient` with both callbacks given, the `ws://` shim applied."""

import asyncio
import json

from moobius.network.ws_client import WSClient
from moobius.types import Button, CanvasItem

import sdkshim  # noqa: F401  (installs the ws:// shim)
from conftest import run, until


def test_bare_wsclient_service_and_user(world):
    async def go():
        got = {"svc": [], "user": []}

        def client(name):
            async def on_connect():
                pass

            async def handle(message):
                got[name].append(json.loads(message))

            return WSClient(world.s.ws, on_connect=on_connect, handle=handle)

        svc, user = client("svc"), client("user")
        await svc.connect()
        await user.connect()
        tasks = [asyncio.create_task(svc.receive()), asyncio.create_task(user.receive())]
        copies = lambda name, kind: [f for f in got[name] if f["type"] == "copy" and f["body"]["origin_type"] == kind]

        await svc.service_login(world.sid, world.t_owner)
        await user.user_login(world.t_alice)
        await until(lambda: copies("svc", "service_login") and copies("user", "user_login"), what="login copies")
        assert copies("svc", "service_login")[0]["body"]["status"] is True

        await user.join_channel(world.alice, world.ch)
        join = await until(lambda: [f for f in got["svc"] if f["type"] == "action"], what="join")
        assert join[0]["body"] == {"subtype": "join", "channel_id": world.ch, "context": {}, "sender": world.alice}

        g = world.group([world.alice])
        await svc.send_buttons([Button(button_id="b1", button_text="B1")], world.sid, world.ch, g)
        await svc.update_canvas(world.sid, world.ch, [CanvasItem(text="hi", path=None)], g)
        await svc.message_down(world.sid, world.sid, world.ch, g, "text", {"text": "hello"}, world.agent)
        await until(lambda: len([f for f in got["user"] if f["type"] in ("update", "message_down")]) >= 3, what="deliveries")
        down = [f for f in got["user"] if f["type"] == "message_down"][0]
        assert down["body"]["content"] == {"text": "hello"} and down["body"]["sender"] == world.agent

        await user.message_up(world.alice, world.alice, world.ch, "service", "text", {"text": "up"})
        up = await until(lambda: [f for f in got["svc"] if f["type"] == "message_up"], what="message_up")
        assert up[0]["body"]["sender"] == world.alice and up[0]["body"]["recipients"] == "service"

        await user.heartbeat()
        await until(lambda: copies("user", "heartbeat"), what="heartbeat copy")
        # Dry runs return the frame and send nothing.
        dry = await user.refresh_as_user(world.alice, world.ch, dry_run=True)
        assert dry["body"]["subtype"] == "refresh"
        await asyncio.sleep(0.3)
        assert not [f for f in got["svc"] if f["type"] == "action" and f["body"]["subtype"] == "refresh"]

        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in (svc, user):
            try:
                await c.websocket.close()
            except Exception:
                pass

    run(go())
