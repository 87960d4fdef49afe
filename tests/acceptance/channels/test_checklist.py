"""Checklist items of spec section 12 that need the real moobius 1.8.0 SDK and that
test_sdk_scenario.py covers only in part:

* 21: a message_up addressed to "service" reaches the service class, whose on_message_up sees
  an empty recipient list (the SDK resolves "service" itself, so the server must pass the
  literal through);
* 55: after the server closes every socket, both SDK instances (service and user mode) log in
  again within a few seconds of the server being back, and a user message is echoed again.
"""

import asyncio
import time


import sdkshim
from conftest import run, until
from sdkshim import Recording, events

# "A few seconds": the SDK reconnects without any delay, so once the server listens again a
# login takes well under a second; this leaves room for a slow machine.
RELOGIN_WITHIN_S = 8


class Service(Recording):
    agent = None

    async def before_channel_init(self):
        self.agent = await self.create_agent("Echo Bot")

    async def on_start(self):
        self.events.append(("start", None))

    async def on_join(self, action):
        self.events.append(("join", action))

    async def on_message_up(self, message):
        self.events.append(("message_up", message))
        if message.recipients:
            await self.send_message(message.content.text + " (echo)", message.channel_id, self.agent.character_id, [message.sender])


class User(Recording):
    async def on_message_down(self, message):
        self.events.append(("message_down", message))


def login_copies(raw, kind, since=0):
    return [f for f in raw[since:] if isinstance(f, dict) and f.get("type") == "copy"
            and f["body"]["origin_type"] == kind and f["body"]["status"] is True]


def test_21_55_service_only_messages_and_relogin_after_the_server_closes_every_socket(server):
    _, ch = sdkshim.echo_room(server)

    async def scenario():
        svc = Service(**sdkshim.configs(server, "owner@example.com", "owner-pw", True, [ch]))
        svc_raw = sdkshim.record_raw(svc)
        tasks = [asyncio.create_task(svc.start())]
        await until(lambda: events(svc, "start"), 30, "service on_start")
        await until(lambda: login_copies(svc_raw, "service_login"), 10, "service_login copy")
        user = User(**sdkshim.configs(server, "user@example.com", "user-pw", False, [ch]))
        user_raw = sdkshim.record_raw(user)
        tasks.append(asyncio.create_task(user.start()))
        uid = (await until(lambda: events(svc, "join"), 20, "join"))[0].sender
        await until(lambda: login_copies(user_raw, "user_login"), 10, "user_login copy")

        # 21: the user-mode SDK's own WSClient sends to "service"; the service sees no recipients.
        await user.ws_client.message_up(uid, svc.client_id, ch, "service", "text", {"text": "only for the service"})
        up = (await until(lambda: [m for m in events(svc, "message_up") if m.content.text == "only for the service"], 10, "message_up"))[0]
        assert up.recipients == [] and up.sender == uid and up.message_id
        raw_up = [f for f in svc_raw if isinstance(f, dict) and f.get("type") == "message_up"][0]
        assert raw_up["body"]["recipients"] == "service"
        await asyncio.sleep(0.5)
        assert events(user, "message_down") == [], "a message to the service only reaches no user"

        # 55: the server closes every socket (a restart); both log in again within seconds.
        n_svc, n_user = len(svc_raw), len(user_raw)
        await asyncio.get_running_loop().run_in_executor(None, server.restart)
        back = time.monotonic()
        await until(lambda: login_copies(svc_raw, "service_login", n_svc), RELOGIN_WITHIN_S, "service re-login")
        await until(lambda: login_copies(user_raw, "user_login", n_user), RELOGIN_WITHIN_S, "user re-login")
        took = time.monotonic() - back
        assert took <= RELOGIN_WITHIN_S, took
        await user.send_message("after the restart", ch, uid, [uid])
        await until(lambda: any(e.content.text == "after the restart (echo)" for e in events(user, "message_down")), 10, "echo after the restart")

        await sdkshim.stop(tasks, (svc, user), (svc_raw, user_raw))

    run(scenario())
