"""Bad input: each gets a clear error (a failed copy or a close with a reason), the server stays
up and other clients are not disturbed."""

import asyncio
import json

import pytest

from conftest import World, run
from relaytest import Raw, Server, rid
from test_ws_protocol import message_down, message_up, update


async def still_works(world, svc, alice):
    """The service -> user path still delivers."""
    g = world.group([world.alice])
    tag = rid()
    assert (await svc.request(message_down(world.ch, g, tag)))["body"]["status"] is True
    await alice.wait(lambda f: f["type"] == "message_down" and f["body"]["content"]["text"] == tag)


def test_malformed_frames_get_failed_copies_and_the_socket_survives(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        cases = [
            ("this is not json", "not JSON"),
            ("[1, 2]", "JSON object"),
            (json.dumps({"request_id": "r1", "body": {}}), "type"),
            (json.dumps({"type": "launch_missiles", "request_id": "r2", "body": {}}), "unknown message type"),
            (json.dumps({"type": "message_up", "request_id": "r3"}), "missing body"),
            (json.dumps({"type": "message_up", "request_id": "r4", "body": {"subtype": "text", "channel_id": world.ch, "content": {"text": "x"}}}), "recipients"),
            (json.dumps({"type": "message_up", "request_id": "r5", "body": {"subtype": "text", "channel_id": world.ch, "content": "bare string", "recipients": "service"}}), "content"),
            (json.dumps({"type": "message_up", "request_id": "r6", "body": {"subtype": "text", "channel_id": world.ch, "content": {"text": "x"}, "recipients": ["a", "b"]}}), "recipients"),
            (json.dumps({"type": "action", "request_id": "r7", "body": {"subtype": "dance", "channel_id": world.ch}}), "unknown action subtype"),
            (json.dumps({"type": "user_login", "request_id": "r8"}), "access_token"),
        ]
        for raw, why in cases:
            n = len(alice.frames)
            await alice.send(raw)
            copy = await alice.wait(lambda f: f["type"] == "copy" and f in alice.frames[n:])
            assert copy["body"]["status"] is False, raw
            assert why in copy["body"]["context"]["message"], (raw, copy)
        await alice.send(b"\x00\x01binary")
        copy = await alice.wait(lambda f: f["type"] == "copy" and "binary" in f["body"]["context"].get("message", ""))
        assert copy["body"]["status"] is False
        hb = await alice.request({"type": "heartbeat", "body": {}})
        assert hb["body"]["status"] is True
        await still_works(world, svc, alice)
        await world.close_all()
    run(go())


def test_wrong_and_unknown_tokens_are_refused(world):
    async def go():
        c = await world.raw()
        copy = await c.login_user("0" * 64)
        assert copy["body"]["status"] is False and "invalid access token" in copy["body"]["context"]["message"]
        # A refresh token is not an access token.
        refresh = world.s.ok("POST", "/auth/sign_in", {"username": "alice@example.com", "password": "alice-pw"})["AuthenticationResult"]["RefreshToken"]
        c2 = await world.raw()
        assert (await c2.login_user(refresh))["body"]["status"] is False
        # A signed-out token is dead for new logins.
        t = world.s.sign_in("bob@example.com", "bob-pw")
        world.s.ok("POST", "/auth/sign_out", {"access_token": t}, t)
        c3 = await world.raw()
        assert (await c3.login_user(t))["body"]["status"] is False
        await world.close_all()
    run(go())


def test_users_cannot_send_service_updates_or_messages_down(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        bob = await world.user(world.t_bob, join_channel=world.ch)
        g = world.group([world.bob])
        for frame in (message_down(world.ch, g, "forged"), update("buttons", world.ch, g, [{"button_id": "x", "button_text": "X"}]),
                      {"type": "update", "subtype": "channel_info", "channel_id": world.ch, "body": {"channel_id": world.ch, "channel_name": "pwned", "channel_description": "", "channel_type": "ccs"}}):
            copy = await alice.request(frame)
            assert copy["body"]["status"] is False and "services only" in copy["body"]["context"]["message"]
        assert [f for f in await bob.quiet(0.3)] == []
        # ... and a service cannot act as a user.
        copy = await svc.request(message_up(world.ch, "service"))
        assert copy["body"]["status"] is False and "users only" in copy["body"]["context"]["message"]
        await still_works(world, svc, alice)
        await world.close_all()
    run(go())


def test_oversized_inbound_frame_closes_with_1009(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        big = await world.raw()
        await big.login_user(world.t_bob)
        await big.send(json.dumps({"type": "heartbeat", "request_id": "big", "body": {"pad": "x" * (1_048_576 + 10)}}))
        code, reason = await big.wait_closed(10)
        assert code == 1009, (code, reason)
        await still_works(world, svc, alice)
        await world.close_all()
    run(go())


def test_03_content_too_big_to_deliver_is_refused(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        g = world.group([world.alice])
        copy = await svc.request(message_down(world.ch, g, "y" * 1_046_000))
        assert copy["body"]["status"] is False and "limit" in copy["body"]["context"]["message"]
        assert await alice.quiet(0.3) == []
        await world.close_all()
    run(go())


def test_flooding_client_is_cut_off_and_others_are_unaffected(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        flood = await world.raw()
        await flood.login_user(world.t_bob)
        frame = json.dumps({"type": "heartbeat", "request_id": "f", "body": {}})

        async def pump():
            # 10,000 frames per second, in 10 ms slices, for up to 3 s.
            loop = asyncio.get_running_loop()
            start = loop.time()
            sent = 0
            try:
                while loop.time() - start < 3:
                    for _ in range(100):
                        await flood.ws.send(frame)
                    sent += 100
                    await asyncio.sleep(max(0, start + sent / 10_000 - loop.time()))
            except Exception:
                pass
            return sent

        pumping = asyncio.create_task(pump())
        # While the flood runs, the service -> user path keeps working.
        for _ in range(5):
            await still_works(world, svc, alice)
        await pumping
        code, reason = await flood.wait_closed(10)
        # Whichever limit trips first (frames in, or copies it is too busy to read) the flooder
        # is told why it was cut off.
        assert code == 1008 and ("rate limit" in reason or "slow consumer" in reason), (code, reason)
        await still_works(world, svc, alice)
        await world.close_all()
    run(go())


def test_slow_consumer_is_disconnected_with_a_reason(tmp_path):
    s = Server(tmp_path / "data", "--channel-outbound-queue", "64", "--channel-max-frames-per-sec", "0")
    s.start()
    try:
        world = World(s)

        async def go():
            svc = await world.service()
            alice = await world.user(world.t_alice, join_channel=world.ch)
            # Bob's client stops reading: its library buffers at most 2 frames, then TCP pushes back.
            slow = await Raw(s.ws).open(max_queue=2)
            await slow.login_user(world.t_bob)
            await slow.request({"type": "action", "body": {"subtype": "join_channel", "channel_id": world.ch, "context": {}}})
            world.clients.append(slow)
            slow._task.cancel()
            g = world.group([world.alice, world.bob])
            payload = "z" * 100_000
            # Sent in rounds that Alice keeps up with: one burst of 300 frames of 100 kB also
            # outruns a client that reads, and the server is right to drop her then too.
            for first in range(0, 300, 20):
                for i in range(first, first + 20):
                    await svc.send(message_down(world.ch, g, f"{i} {payload}"))
                last = f"{first + 19} "
                await alice.wait(lambda f: f["type"] == "message_down" and f["body"]["content"]["text"].startswith(last), 60)
            assert len(alice.of_type("message_down")) == 300
            for _ in range(100):
                if "slow consumer" in s.log():
                    break
                await asyncio.sleep(0.1)
            assert "slow consumer" in s.log()
            # Its reader is gone, so a close handshake would only wait out the library's timeout.
            slow.ws.transport.abort()
            await world.close_all()

        run(go())
    finally:
        s.stop()
