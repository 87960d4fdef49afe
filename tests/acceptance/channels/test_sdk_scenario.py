"""The end-to-end scenario of spec section 9 with the real moobius 1.8.0 SDK: a service-class
instance in service mode and one in user mode, talking through `relay serve`, including a
server crash and restart in the middle (checklist 54, 55, 36 and the shapes on the way). The
SDK logs at ERROR, as its default user has it (slower logging at INFO hid a reconnect race)."""

import asyncio

from moobius.types import Button, CanvasItem, ChannelInfo, MenuItem, StyleItem

import sdkshim
from conftest import run, until
from sdkshim import EchoBase, Recording, events


class EchoService(EchoBase):
    async def push_ui(self, ch, uid):
        await self.send_characters([uid, self.agent.character_id], ch, [uid])
        await self.send_buttons([Button(button_id="b1", button_text="B1")], ch, [uid])
        await self.send_menu([MenuItem(menu_item_id="m1", menu_item_text="M1", message_subtypes=["text"])], ch, [uid])
        await self.send_style([StyleItem(widget="canvas", display="visible", expand=True)], ch, [uid])
        await self.send_canvas([CanvasItem(text="hello canvas", path=None)], ch, [uid])

    async def on_refresh(self, action):
        self.events.append(("refresh", action))

    async def on_button_click(self, click):
        self.events.append(("button_click", click))
        value = click.arguments[0].value if click.arguments else "-"
        await self.send_canvas([CanvasItem(text=f"Clicked {click.button_id} {value}", path=None)], click.channel_id, [click.sender])

    async def on_menu_item_click(self, click):
        self.events.append(("menu_item_click", click))


class User(Recording):
    async def on_message_down(self, message):
        self.events.append(("message_down", message))

    async def on_update_buttons(self, update):
        self.events.append(("buttons", update))

    async def on_update_menu(self, update):
        self.events.append(("menu", update))

    async def on_update_style(self, update):
        self.events.append(("style", update))

    async def on_update_canvas(self, update):
        self.events.append(("canvas", update))


def frames(raw, t, subtype=None, since=0):
    return [f for f in raw[since:] if isinstance(f, dict) and f.get("type") == t and (subtype is None or f["body"].get("subtype") == subtype)]


def test_real_sdk_scenario_with_restart(server):
    t_owner, ch = sdkshim.echo_room(server)

    async def scenario():
        svc = EchoService(**sdkshim.configs(server, "owner@example.com", "owner-pw", True, [ch]))
        svc_raw = sdkshim.record_raw(svc)
        svc_task = asyncio.create_task(svc.start())
        # 54: start() completes with an empty service_id: service created, channel bound, on_start.
        await until(lambda: events(svc, "start"), 30, "service on_start")
        assert svc.client_id
        listed = server.ok("GET", "/service/list", token=t_owner)
        assert {"service_id": svc.client_id, "channel_ids": [ch]} in listed
        # The SDK runs on_start without waiting for its login's copy, so the copy may still be
        # on its way here.
        await until(lambda: [f for f in frames(svc_raw, "copy") if f["body"]["origin_type"] == "service_login" and f["body"]["status"] is True], 10, "service_login copy")

        user = User(**sdkshim.configs(server, "user@example.com", "user-pw", False, [ch]))
        user_raw = sdkshim.record_raw(user)
        user_task = asyncio.create_task(user.start())
        # Join: the service is told, then pushes UI which the user-mode callbacks receive (36).
        join = (await until(lambda: events(svc, "join"), 20, "join"))[0]
        assert join.channel_id == ch
        uid = join.sender
        assert uid in server.ok("GET", f"/channel/character_list?channel_id={ch}&service_id={uid}", token=t_owner)["character_list"]
        for kind in ("buttons", "menu", "style", "canvas"):
            await until(lambda: events(user, kind), 15, f"user on_update_{kind}")
        assert events(user, "buttons")[0].content[0].button.button_id == "b1"
        assert events(user, "canvas")[0].content[0].canvas_item.text == "hello canvas"
        # 32: the characters update, checked on the raw frame because of the SDK bug.
        chars = (await until(lambda: frames(user_raw, "update", "characters"), 10, "characters frame"))[0]
        assert sorted(chars["body"]) == ["channel_id", "content", "context", "recipients", "subtype"]
        group = server.ok("GET", f"/user/group?group_id={chars['body']['content']['characters']}&channel_id={ch}&user_id={uid}", token=t_owner)
        assert group["characters"] == [uid, svc.agent.character_id]

        # message_up -> echo message_down from the agent (20, 28, 29, 36).
        await user.send_message("hello", ch, uid, [uid])
        up = (await until(lambda: events(svc, "message_up"), 10, "message_up"))[0]
        assert up.sender == uid and up.content.text == "hello" and up.recipients == [uid] and up.message_id
        down = (await until(lambda: events(user, "message_down"), 10, "echo"))[0]
        assert down.content.text == "hello (echo)" and down.sender == svc.agent.character_id and down.message_id
        raw_down = frames(user_raw, "message_down")[0]
        assert sorted(raw_down["body"]) == sorted(["subtype", "channel_id", "content", "recipients", "timestamp", "context", "sender", "message_id"])

        # Button click with the SDK's argument wrapping quirk (23), answered by a canvas update.
        await user.send_button_click("b1", "go", {"label": "n", "value": "2"}, ch)
        click = (await until(lambda: events(svc, "button_click"), 10, "button click"))[0]
        assert click.button_id == "b1" and click.bottom_button_id == "go"
        assert [(a.label, a.value) for a in click.arguments] == [("n", "2")]
        await until(lambda: any(e.content[0].canvas_item.text == "Clicked b1 2" for e in events(user, "canvas")), 10, "click canvas")

        # Menu click naming a stored message: the server fills in its subtype and content (24).
        await user.send_menu_item_click("m1", "confirm", [], down.message_id, ch)
        mclick = (await until(lambda: events(svc, "menu_item_click"), 10, "menu click"))[0]
        assert mclick.message_subtype == "text" and mclick.message_content.text == "hello (echo)"

        # Heartbeats get copies (11).
        n = len(svc_raw)
        await svc.send_heartbeat()
        await until(lambda: [f for f in frames(svc_raw, "copy", since=n) if f["body"]["origin_type"] == "heartbeat"], 10, "heartbeat copy")

        # Refresh: the cached UI is replayed to the user before the service hears of it (38, 19).
        n = len(user_raw)
        await user.send_refresh(ch)
        refresh = (await until(lambda: events(svc, "refresh"), 10, "refresh"))[0]
        assert refresh.sender == uid and refresh.channel_id == ch
        replay = await until(lambda: [f["body"]["subtype"] for f in frames(user_raw, "update", since=n)] if len(frames(user_raw, "update", since=n)) >= 5 else None, 10, "replay")
        assert replay[:5] == ["characters", "buttons", "menu", "style", "canvas"]

        # Channel info pushed by the service reaches the user as a raw frame (33).
        await svc.ws_client.update_channel_info(ChannelInfo(channel_id=ch, channel_name="Renamed", channel_description="new", channel_type="ccs"), svc.client_id, ch)
        info = (await until(lambda: frames(user_raw, "update", "channel_info"), 10, "channel info"))[0]
        assert info["body"]["content"] == {"channel_id": ch, "channel_name": "Renamed", "channel_description": "new", "channel_type": "ccs"}

        # --- the server restarts: both SDK instances reconnect and log in again (55) ---
        n_svc, n_user = len(svc_raw), len(user_raw)
        # A crash (`kill -9`), as a new user tries it; test_sdk_restarts.py does it 20 times.
        await asyncio.get_running_loop().run_in_executor(None, lambda: server.restart(crash=True))
        relogin = lambda raw, n, kind: [f for f in frames(raw, "copy", since=n) if f["body"]["origin_type"] == kind and f["body"]["status"] is True]
        await until(lambda: relogin(svc_raw, n_svc, "service_login"), 60, "service re-login")
        await until(lambda: relogin(user_raw, n_user, "user_login"), 60, "user re-login")
        before = len(events(user, "message_down"))
        await user.send_message("after reconnect", ch, uid, [uid])
        await until(lambda: any(e.content.text == "after reconnect (echo)" for e in events(user, "message_down")[before:]), 20, "echo after restart")

        # History survived the restart and is visible to the user (40).
        hist = server.call("GET", f"/channel/history_message?channel_id={ch}&limit=10&before=null", token=server.sign_in("user@example.com", "user-pw"))
        texts = [m["content"].get("text") for m in hist["data"]]
        assert "hello (echo)" in texts and "after reconnect (echo)" in texts

        # Leave: the membership goes, the service is told (18).
        await user.send_leave_channel(ch)
        leave = (await until(lambda: events(svc, "leave"), 10, "leave"))[0]
        assert leave.sender == uid
        assert uid not in server.ok("GET", f"/channel/character_list?channel_id={ch}", token=t_owner)["character_list"]

        await sdkshim.stop((svc_task, user_task), (svc, user), (svc_raw, user_raw))

    run(scenario())
