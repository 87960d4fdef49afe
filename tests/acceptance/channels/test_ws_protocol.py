"""Raw WebSocket conformance (spec section 12), frame by frame, with the `websockets` library
the SDK itself uses. Numbers in test names refer to checklist items."""

import asyncio
import time

from conftest import run
from relaytest import Raw, rid

COPY_KEYS = ["context", "origin_type", "request_id", "status"]
DOWN_KEYS = sorted(["subtype", "channel_id", "content", "recipients", "timestamp", "context", "sender", "message_id"])
UP_KEYS = sorted(["subtype", "content", "channel_id", "timestamp", "recipients", "message_id", "context", "sender"])


def action(subtype, ch, **extra):
    return {"type": "action", "body": {"subtype": subtype, "channel_id": ch, "context": {}, **extra}}


def message_up(ch, recipients, text="hi", **top):
    return {"type": "message_up", **top, "body": {"subtype": "text", "channel_id": ch, "content": {"text": text}, "recipients": recipients, "timestamp": 1, "context": {}}}


def message_down(ch, recipients, text="down", sender="no_sender"):
    return {"type": "message_down", "body": {"subtype": "text", "channel_id": ch, "content": {"text": text}, "recipients": recipients, "timestamp": 1, "context": {}, "sender": sender}}


def update(kind, ch, recipients, content):
    return {"type": "update", "body": {"subtype": kind, "channel_id": ch, "recipients": recipients, "content": content, "group_id": "temp", "context": {}}}


def test_01_04_11_heartbeat_before_login_gets_exact_copy(world):
    async def go():
        c = await world.raw()
        r = rid()
        await c.send({"type": "heartbeat", "request_id": r, "body": {}})
        copy = await c.wait(lambda f: f["type"] == "copy")
        assert sorted(copy["body"]) == COPY_KEYS
        assert copy["body"] == {"request_id": r, "origin_type": "heartbeat", "status": True, "context": {}}
        await world.close_all()
    run(go())


def test_02_pings_are_answered(world):
    async def go():
        c = await world.raw()
        pong = await c.ws.ping()
        await asyncio.wait_for(pong, 5)
        await world.close_all()
    run(go())


def test_05_08_12_service_login_copy_and_idempotent_relogin(world):
    async def go():
        svc = await world.raw()
        req = {"type": "service_login", "auth_origin": "cognito", "access_token": world.t_owner, "service_id": world.sid, "unknown_top_level": [1, 2]}
        copy = await svc.request(req)
        assert sorted(copy["body"]) == COPY_KEYS
        assert copy["body"]["status"] is True and copy["body"]["origin_type"] == "service_login" and copy["body"]["context"] == {}
        again = await svc.request(req)
        assert again["body"]["status"] is True
        alice = await world.user(world.t_alice, join_channel=world.ch)
        await svc.wait(lambda f: f["type"] == "action" and f["body"]["subtype"] == "join")
        await asyncio.sleep(0.3)
        assert len(svc.of_type("action", "join")) == 1
        assert svc.closed is None
        await world.close_all()
    run(go())


def test_09_failed_logins_get_false_copy_then_close_after_a_second(world):
    async def go():
        other_sid = world.s.ok("POST", "/service/create", {"description": "alice's"}, world.t_alice)["service_id"]
        for token, sid in ((world.t_owner + "x", world.sid), (world.t_owner, other_sid), ("", world.sid)):
            c = await world.raw()
            copy = await c.login_service(token, sid)
            t0 = time.monotonic()
            assert copy["body"]["status"] is False and "login failed" in copy["body"]["context"]["message"]
            code, _ = await c.wait_closed(10)
            assert time.monotonic() - t0 >= 1.0
            assert code == 1008
        # Nothing was routed to those sockets: a join reaches no one and nothing breaks.
        alice = await world.user(world.t_alice, join_channel=world.ch)
        await world.close_all()
    run(go())


def test_10_user_login(world):
    async def go():
        c = await world.raw()
        copy = await c.login_user(world.t_alice)
        assert copy["body"]["status"] is True and copy["body"]["origin_type"] == "user_login"
        bad = await (await world.raw()).login_user("nope")
        assert bad["body"]["status"] is False
        await world.close_all()
    run(go())


def test_13_newest_login_wins_and_old_socket_is_closed(world):
    async def go():
        a = await world.service()
        b = await world.service()
        code, reason = await a.wait_closed(5)
        assert "superseded" in reason
        await world.user(world.t_alice, join_channel=world.ch)
        await b.wait(lambda f: f["type"] == "action" and f["body"]["subtype"] == "join")
        await world.close_all()
    run(go())


def test_14_prelogin_frames_run_after_login_in_order_and_never_without(world):
    async def go():
        never = await world.raw()
        await never.send({**action("join_channel", world.ch), "request_id": rid()})
        assert await never.quiet(0.5) == []
        await never.close()
        assert world.alice not in world.s.ok("GET", f"/channel/character_list?channel_id={world.ch}", token=world.t_owner)["character_list"]

        svc = await world.service()
        c = await world.raw()
        j, l = rid(), rid()
        await c.send({**action("join_channel", world.ch), "request_id": j, "user_id": world.bob})
        await c.send({**action("leave_channel", world.ch), "request_id": l})
        await c.send({**action("join_channel", world.ch), "request_id": j + "2"})
        assert await c.quiet(0.3) == []
        await c.login_user(world.t_alice)
        await c.wait(lambda f: f["type"] == "copy" and f["body"]["request_id"] == j + "2")
        acks = [f["body"]["request_id"] for f in c.of_type("copy")]
        assert acks[-3:] == [j, l, j + "2"]
        subs = [f["body"]["subtype"] for f in await svc.quiet(0.3) + svc.of_type("action")]
        assert [f["body"]["subtype"] for f in svc.of_type("action")] == ["join", "leave", "join"]
        assert all(f["body"]["sender"] == world.alice for f in svc.of_type("action"))
        await world.close_all()
    run(go())


def test_15_tokens_and_groups_survive_restart(world):
    async def go():
        g = world.group([world.alice])
        world.s.restart()
        c = await world.raw()
        assert (await c.login_user(world.t_alice))["body"]["status"] is True
        assert world.s.ok("GET", f"/user/group?group_id={g}&channel_id={world.ch}&user_id=x", token=world.t_bob)["characters"] == [world.alice]
        await world.close_all()
    run(go())


def test_17_18_19_join_leave_refresh_reach_the_service_exactly(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        join = await svc.wait(lambda f: f["type"] == "action")
        assert join["body"] == {"subtype": "join", "channel_id": world.ch, "context": {}, "sender": world.alice}
        assert world.alice in world.s.ok("GET", f"/channel/character_list?channel_id={world.ch}", token=world.t_owner)["character_list"]
        assert (await alice.request(action("refresh", world.ch)))["body"]["status"] is True
        ref = await svc.wait(lambda f: f["type"] == "action" and f["body"]["subtype"] == "refresh")
        assert ref["body"] == {"subtype": "refresh", "channel_id": world.ch, "context": {}, "sender": world.alice}
        assert (await alice.request(action("leave_channel", world.ch)))["body"]["status"] is True
        leave = await svc.wait(lambda f: f["type"] == "action" and f["body"]["subtype"] == "leave")
        assert leave["body"] == {"subtype": "leave", "channel_id": world.ch, "context": {}, "sender": world.alice}
        assert world.alice not in world.s.ok("GET", f"/channel/character_list?channel_id={world.ch}", token=world.t_owner)["character_list"]
        await world.close_all()
    run(go())


def test_20_21_22_25_message_up_shape_and_identity(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        g = world.s.ok("POST", "/user/group/create", {"channel_id": world.ch, "group_name": "A_message_up_group", "characters": [world.alice]}, world.t_alice)["group_id"]
        # Forged identity fields at top level are ignored.
        copy = await alice.request(message_up(world.ch, g, "hello", user_id=world.bob, service_id=world.alice))
        assert copy["body"]["status"] is True
        up = await svc.wait(lambda f: f["type"] == "message_up")
        assert sorted(up["body"]) == UP_KEYS
        assert up["body"]["sender"] == world.alice and up["body"]["recipients"] == g
        assert up["body"]["content"] == {"text": "hello"} and isinstance(up["body"]["message_id"], str) and up["body"]["message_id"]
        await alice.request(message_up(world.ch, "service", "to service"))
        up2 = await svc.wait(lambda f: f["type"] == "message_up" and f["body"]["content"]["text"] == "to service")
        assert up2["body"]["recipients"] == "service" and up2["body"]["message_id"] != up["body"]["message_id"]
        # The user's own message is not echoed by the server.
        assert alice.of_type("message_down") == []
        await world.close_all()
    run(go())


def test_23_button_click_arguments_are_flattened(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        cases = [
            ([[]], []),
            ([{"label": "How many?", "value": "2"}], [{"label": "How many?", "value": "2"}]),
            ([[{"label": "a", "value": "1"}, {"label": "b", "value": "2", "junk": 1}]], [{"label": "a", "value": "1"}, {"label": "b", "value": "2"}]),
        ]
        for sent, expected in cases:
            await alice.request(action("button_click", world.ch, button_id="meow", arguments=sent, bottom_button_id="confirm"))
            f = await svc.wait(lambda f: f["type"] == "action" and f["body"]["subtype"] == "button_click" and f not in seen)
            seen.append(f)
            assert f["body"]["arguments"] == expected
            assert f["body"]["sender"] == world.alice and f["body"]["button_id"] == "meow" and f["body"]["bottom_button_id"] == "confirm"
        await world.close_all()
    seen = []
    run(go())


def test_24_menu_item_click_shape(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        await alice.request(action("menu_item_click", world.ch, menu_item_id="mi", message_id="MSG-1", message_subtype="text", message_content={"text": "hi", "path": None}, arguments=[[]], bottom_button_id="confirm"))
        f = await svc.wait(lambda f: f["type"] == "action" and f["body"]["subtype"] == "menu_item_click")
        allowed = {"subtype", "menu_item_id", "channel_id", "message_id", "message_subtype", "message_content", "arguments", "bottom_button_id", "context", "sender"}
        assert set(f["body"]) <= allowed
        assert f["body"]["message_content"] == {"text": "hi"} and f["body"]["arguments"] == [] and f["body"]["sender"] == world.alice
        await world.close_all()
    run(go())


def test_26_non_members_cannot_act(world):
    async def go():
        svc = await world.service()
        bob = await world.user(world.t_bob)
        for frame in (message_up(world.ch, "service"), action("refresh", world.ch), action("button_click", world.ch, button_id="b", arguments=[]),
                      action("menu_item_click", world.ch, menu_item_id="m", message_subtype="text", message_content={})):
            copy = await bob.request(frame)
            assert copy["body"]["status"] is False and "not a member" in copy["body"]["context"]["message"]
        assert await svc.quiet(0.3) == []
        await world.close_all()
    run(go())


def test_27_events_for_an_offline_service_are_not_forwarded_later(world):
    async def go():
        alice = await world.user(world.t_alice, join_channel=world.ch)
        assert (await alice.request(message_up(world.ch, "service", "while offline")))["body"]["status"] is True
        svc = await world.service()
        assert [f for f in await svc.quiet(0.5) if f["type"] != "copy"] == []
        await world.close_all()
    run(go())


def test_28_29_message_down_reaches_exactly_current_members_of_the_group(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        bob = await world.user(world.t_bob)  # online but not a member
        g = world.group([world.alice, world.bob, world.agent, "no-such-user"])
        copy = await svc.request(message_down(world.ch, g, "to all", sender=world.agent))
        assert copy["body"]["status"] is True
        got = await alice.wait(lambda f: f["type"] == "message_down")
        assert sorted(got["body"]) == DOWN_KEYS
        assert got["body"]["recipients"] == g and got["body"]["sender"] == world.agent and got["body"]["message_id"]
        assert got["service_id"] == world.sid
        assert bob.of_type("message_down") == [] and [f for f in await bob.quiet(0.3) if f["type"] != "copy"] == []
        await world.close_all()
    run(go())


def test_30_service_cannot_push_into_a_channel_it_is_not_bound_to(world):
    async def go():
        alice = await world.user(world.t_alice, join_channel=world.ch)
        other = world.s.ok("POST", "/service/create", {"description": "unbound"}, world.t_owner)["service_id"]
        c = await world.raw()
        await c.login_service(world.t_owner, other)
        g = world.group([world.alice])
        for frame in (message_down(world.ch, g), update("buttons", world.ch, g, [{"button_id": "x", "button_text": "X"}])):
            copy = await c.request(frame)
            assert copy["body"]["status"] is False and "not bound" in copy["body"]["context"]["message"]
        assert [f for f in await alice.quiet(0.3)] == []
        await world.close_all()
    run(go())


def test_31_35_37_updates_delivered_unchanged_to_targets(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        g = world.group([world.alice])
        contents = {
            "buttons": [{"button_id": "meow", "button_text": "MEOW", "dialog": None}, {"button_id": "r", "button_text": "R", "dialog": {"title": "T", "components": [{"label": "n", "type": "dropdown", "required": True, "placeholder": None, "choices": ["1", "2"]}], "bottom_buttons": [{"id": "go", "text": "Go", "submit": True}]}}],
            "menu": [{"menu_item_id": "mi", "menu_item_text": "What?", "message_subtypes": ["text"], "dialog": None}],
            "style": [{"widget": "canvas", "display": "visible", "expand": True, "button_id": None, "text": None}],
            "canvas": [{"text": "I am up!", "path": None}],
        }
        for kind, content in contents.items():
            assert (await svc.request(update(kind, world.ch, g, content)))["body"]["status"] is True
            f = await alice.wait(lambda f: f["type"] == "update" and f["body"]["subtype"] == kind)
            assert set(f["body"]) <= {"subtype", "channel_id", "recipients", "content", "context", "group_id"}
            assert f["body"]["content"] == content and f["body"]["recipients"] == g
        await world.close_all()
    run(go())


def test_32_characters_update_resolves_to_the_ordered_list(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        g = world.group([world.alice])
        cg = world.group([world.agent, world.alice])
        req = {"type": "update", "body": {"subtype": "characters", "channel_id": world.ch, "recipients": g, "content": {"characters": cg}}}
        assert (await svc.request(req))["body"]["status"] is True
        f = await alice.wait(lambda f: f["type"] == "update")
        assert f["body"] == {"subtype": "characters", "channel_id": world.ch, "recipients": g, "content": {"characters": cg}, "context": {}}
        assert world.s.ok("GET", f"/user/group?group_id={cg}&channel_id={world.ch}&user_id={world.alice}", token=world.t_alice)["characters"] == [world.agent, world.alice]
        await world.close_all()
    run(go())


def test_33_channel_info_update(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        info = {"channel_id": world.ch, "channel_name": "Name", "channel_description": "Desc", "channel_type": "ccs"}
        req = {"type": "update", "subtype": "channel_info", "channel_id": world.ch, "body": {**info, "context": {"channel_description": "Desc", "channel_type": "ccs"}}}
        assert (await svc.request(req))["body"]["status"] is True
        f = await alice.wait(lambda f: f["type"] == "update")
        assert f["body"] == {"subtype": "channel_info", "channel_id": world.ch, "content": info, "context": {}}
        listed = world.s.ok("GET", "/channel/list", token=world.t_alice)
        assert [c["channel_name"] for c in listed if c["channel_id"] == world.ch] == ["Name"]
        await world.close_all()
    run(go())


def test_34_generic_update_with_unknown_body_is_refused(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        copy = await svc.request({"type": "update", "service_id": world.alice, "body": {"subtype": "custom", "x": 1}})
        assert copy["body"]["status"] is False and "unsupported update" in copy["body"]["context"]["message"]
        bad = await svc.request(update("buttons", world.ch, world.group([world.alice]), [{"button_id": "b", "button_text": "B", "arguments": []}]))
        assert bad["body"]["status"] is False
        assert await alice.quiet(0.3) == []
        await world.close_all()
    run(go())


def test_37_38_39_ui_cache_replaces_replays_and_is_dropped_on_leave(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        g = world.group([world.alice])
        await svc.request(update("buttons", world.ch, g, [{"button_id": "old", "button_text": "Old"}]))
        await svc.request(update("buttons", world.ch, g, [{"button_id": "new", "button_text": "New"}]))
        await svc.request(update("canvas", world.ch, g, [{"text": "c"}]))
        await svc.close()
        # The service is offline; the user's refresh still gets the current view, newest only.
        n = len(alice.frames)
        await alice.request(action("refresh", world.ch))
        replay = [f for f in alice.frames[n:] if f["type"] == "update"]
        assert [(f["body"]["subtype"], f["body"]["content"]) for f in replay] == [("buttons", [{"button_id": "new", "button_text": "New"}]), ("canvas", [{"text": "c"}])]
        await alice.request(action("leave_channel", world.ch))
        await alice.request(action("join_channel", world.ch))
        n = len(alice.frames)
        await alice.request(action("refresh", world.ch))
        assert [f for f in alice.frames[n:] if f["type"] == "update"] == []
        await world.close_all()
    run(go())


def test_40_history_holds_messages_for_sender_and_recipients(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        bob = await world.user(world.t_bob, join_channel=world.ch)
        await alice.request(message_up(world.ch, "service", "from alice"))
        await svc.request(message_down(world.ch, world.group([world.alice]), "to alice"))
        await svc.request(message_down(world.ch, world.group([world.bob]), "to bob"))
        hist = world.s.call("GET", f"/channel/history_message?channel_id={world.ch}&limit=10&before=null", {"limit": "10"}, world.t_alice)
        assert hist["code"] == 10000
        texts = [m["content"]["text"] for m in hist["data"]]
        assert texts == ["to alice", "from alice"]
        assert all(sorted(m) == DOWN_KEYS for m in hist["data"])
        bob_texts = [m["content"]["text"] for m in world.s.ok("GET", f"/channel/history_message?channel_id={world.ch}&limit=10", token=world.t_bob)]
        assert bob_texts == ["to bob"]
        owner_texts = [m["content"]["text"] for m in world.s.ok("GET", f"/channel/history_message?channel_id={world.ch}&limit=2", token=world.t_owner)]
        assert owner_texts == ["to bob", "to alice"]
        await world.close_all()
    run(go())


def test_16_a_logged_in_socket_outlives_its_token(world):
    """Tokens are checked once, at login: revoking the token (the same effect as its expiry)
    does not cut an authenticated socket, which keeps sending and receiving."""
    async def go():
        svc = await world.service()
        t = world.s.sign_in("alice@example.com", "alice-pw")
        alice = await world.user(t, join_channel=world.ch)
        world.s.ok("POST", "/auth/sign_out", {"access_token": t}, t)
        assert world.s.call("GET", "/user/info", token=t)["code"] != 10000
        await asyncio.sleep(1)
        assert (await alice.request(message_up(world.ch, "service", "still here")))["body"]["status"] is True
        await svc.wait(lambda f: f["type"] == "message_up" and f["body"]["content"]["text"] == "still here")
        assert (await svc.request(message_down(world.ch, world.group([world.alice]), "back")))["body"]["status"] is True
        await alice.wait(lambda f: f["type"] == "message_down")
        assert alice.closed is None
        await world.close_all()
    run(go())
