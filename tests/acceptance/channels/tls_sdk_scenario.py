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
from moobius.types import Button, CanvasItem

from conftest import run, until
from recording import EchoBase, Recording, events

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


class EchoService(EchoBase):
    async def push_ui(self, ch, uid):
        await self.send_buttons([Button(button_id="b1", button_text="B1")], ch, [uid])
        await self.send_canvas([CanvasItem(text="hello canvas", path=None)], ch, [uid])

    async def on_button_click(self, click):
        self.events.append(("button_click", click))
        await self.send_canvas([CanvasItem(text=f"Clicked {click.button_id}", path=None)], click.channel_id, [click.sender])


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
    await until(lambda: events(svc, "start"), 30, "service on_start over https/wss")
    assert svc.client_id

    user = User(**configs("user@example.com", "user-pw", False))
    user_task = asyncio.create_task(user.start())
    join = (await until(lambda: events(svc, "join"), 20, "join"))[0]
    assert join.channel_id == CH
    uid = join.sender
    await until(lambda: events(user, "buttons"), 15, "user on_update_buttons")
    await until(lambda: events(user, "canvas"), 15, "user on_update_canvas")
    assert events(user, "buttons")[0].content[0].button.button_id == "b1"

    await user.send_message("hello", CH, uid, [uid])
    up = (await until(lambda: events(svc, "message_up"), 10, "message_up"))[0]
    assert up.sender == uid and up.content.text == "hello"
    down = (await until(lambda: events(user, "message_down"), 10, "echo"))[0]
    assert down.content.text == "hello (echo)" and down.sender == svc.agent.character_id

    await user.send_button_click("b1", "go", {"label": "n", "value": "2"}, CH)
    await until(lambda: events(svc, "button_click"), 10, "button click")
    await until(lambda: any(e.content[0].canvas_item.text == "Clicked b1" for e in events(user, "canvas")), 10, "click canvas")

    await user.send_leave_channel(CH)
    leave = (await until(lambda: events(svc, "leave"), 10, "leave"))[0]
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
