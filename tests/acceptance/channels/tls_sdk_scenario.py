"""The SDK's service + user end-to-end over https:// and wss://, with the real moobius 1.8.0
and no patched line: run by test_tls.py in an interpreter of its own, so that the ws:// shim
(sdkshim, which the other tests import) is never loaded. Usage:
    python tls_sdk_scenario.py HTTPS_URI WSS_URI CHANNEL_ID
The only thing arranged for it is the trust store the SDK uses, certifi's bundle, which
test_tls.py extends with its test CA."""

import asyncio
import json
import sys

import moobius.network.ws_client
import websockets
from moobius import Moobius
from moobius.types import Button, CanvasItem

from conftest import run, until

HTTP, WS, CH = sys.argv[1:4]


def configs(email, password, service_mode):
    return dict(
        service_config={
            "http_server_uri": HTTP,
            "ws_server_uri": WS,
            "service_id": "",
            "channels": [CH],
            "service_mode": service_mode,
            "checkin_interval": 0,
            "no_warn_cannot_save_service_id": True,
        },
        account_config={"email": email, "password": password},
        log_config={"terminal_log_level": "WARNING", "error_log_file": None},
    )


class Recording(Moobius):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.events = []

    def of(self, kind):
        return [e for k, e in self.events if k == kind]


class EchoService(Recording):
    agent = None

    async def before_channel_init(self):
        self.agent = await self.create_agent("Echo Bot", description="echoes")

    async def on_start(self):
        self.events.append(("start", None))

    async def on_join(self, action):
        self.events.append(("join", action))
        ch, uid = action.channel_id, action.sender
        await self.send_buttons([Button(button_id="b1", button_text="B1")], ch, [uid])
        await self.send_canvas([CanvasItem(text="hello canvas", path=None)], ch, [uid])

    async def on_message_up(self, message):
        self.events.append(("message_up", message))
        await self.send_message(message.content.text + " (echo)", message.channel_id, self.agent.character_id, [message.sender])

    async def on_button_click(self, click):
        self.events.append(("button_click", click))
        await self.send_canvas([CanvasItem(text=f"Clicked {click.button_id}", path=None)], click.channel_id, [click.sender])

    async def on_leave(self, action):
        self.events.append(("leave", action))


class User(Recording):
    async def on_message_down(self, message):
        self.events.append(("message_down", message))

    async def on_update_buttons(self, update):
        self.events.append(("buttons", update))

    async def on_update_canvas(self, update):
        self.events.append(("canvas", update))


async def scenario():
    # Unpatched: the SDK's ws client module still uses websockets itself.
    assert moobius.network.ws_client.websockets is websockets
    assert "sdkshim" not in sys.modules
    svc = EchoService(**configs("owner@example.com", "owner-pw", True))
    svc_task = asyncio.create_task(svc.start())
    await until(lambda: svc.of("start"), 30, "service on_start over https/wss")
    assert svc.client_id

    user = User(**configs("user@example.com", "user-pw", False))
    user_task = asyncio.create_task(user.start())
    join = (await until(lambda: svc.of("join"), 20, "join"))[0]
    assert join.channel_id == CH
    uid = join.sender
    await until(lambda: user.of("buttons"), 15, "user on_update_buttons")
    await until(lambda: user.of("canvas"), 15, "user on_update_canvas")
    assert user.of("buttons")[0].content[0].button.button_id == "b1"

    await user.send_message("hello", CH, uid, [uid])
    up = (await until(lambda: svc.of("message_up"), 10, "message_up"))[0]
    assert up.sender == uid and up.content.text == "hello"
    down = (await until(lambda: user.of("message_down"), 10, "echo"))[0]
    assert down.content.text == "hello (echo)" and down.sender == svc.agent.character_id

    await user.send_button_click("b1", "go", {"label": "n", "value": "2"}, CH)
    await until(lambda: svc.of("button_click"), 10, "button click")
    await until(lambda: any(e.content[0].canvas_item.text == "Clicked b1" for e in user.of("canvas")), 10, "click canvas")

    await user.send_leave_channel(CH)
    leave = (await until(lambda: svc.of("leave"), 10, "leave"))[0]
    assert leave.sender == uid

    for t in (svc_task, user_task):
        t.cancel()
    await asyncio.gather(svc_task, user_task, return_exceptions=True)
    for inst in (svc, user):
        try:
            inst.scheduler.shutdown(wait=False)
        except Exception:
            pass
        inst.queue.put(None)
    print(json.dumps({"ok": True, "service_id": svc.client_id}))


if __name__ == "__main__":
    run(scenario())
