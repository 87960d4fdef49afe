"""Relay's extension: per-channel offsets and resume after a reconnect, with an explicit notice
when the gap cannot be filled."""

from conftest import World, run
from relaytest import Server
from test_ws_protocol import message_down


def resume(ch, offset, epoch=None):
    body = {"channel_id": ch, "offset": offset}
    if epoch:
        body["epoch"] = epoch
    return {"type": "resume", "body": body}


def test_offsets_increase_and_resume_replays_what_was_missed(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        g = world.group([world.alice])
        for i in range(3):
            await svc.request(message_down(world.ch, g, f"m{i}"))
        got = [await alice.wait(lambda f, i=i: f["type"] == "message_down" and f["body"]["content"]["text"] == f"m{i}") for i in range(3)]
        offsets = [f["offset"] for f in got]
        assert offsets == sorted(offsets) and len(set(offsets)) == 3
        epoch = got[0]["epoch"]
        await alice.close()
        for i in range(3, 6):
            await svc.request(message_down(world.ch, g, f"m{i}"))
        back = await world.user(world.t_alice)
        copy = await back.request(resume(world.ch, offsets[-1], epoch))
        ctx = copy["body"]["context"]
        assert copy["body"]["status"] is True and ctx["gap"] is False and ctx["replayed"] == 3
        texts = [f["body"]["content"]["text"] for f in back.of_type("message_down")]
        assert texts == ["m3", "m4", "m5"]
        # Resuming again from the newest offset replays nothing.
        last = back.of_type("message_down")[-1]["offset"]
        again = await back.request(resume(world.ch, last, epoch))
        assert again["body"]["context"]["replayed"] == 0
        await world.close_all()
    run(go())


def test_resume_across_a_restart(world):
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        g = world.group([world.alice])
        await svc.request(message_down(world.ch, g, "before"))
        first = await alice.wait(lambda f: f["type"] == "message_down")
        await svc.request(message_down(world.ch, g, "missed"))
        await world.close_all()
        world.clients.clear()
        world.s.restart()
        back = await world.user(world.t_alice)
        copy = await back.request(resume(world.ch, first["offset"], first["epoch"]))
        assert copy["body"]["context"]["gap"] is False
        assert [f["body"]["content"]["text"] for f in back.of_type("message_down")] == ["missed"]
        await world.close_all()
    run(go())


def test_gap_that_cannot_be_filled_is_reported(tmp_path):
    s = Server(tmp_path / "data", "--channel-history-limit", "16")
    s.start()
    try:
        world = World(s)

        async def go():
            svc = await world.service()
            alice = await world.user(world.t_alice, join_channel=world.ch)
            g = world.group([world.alice])
            await svc.request(message_down(world.ch, g, "first"))
            first = await alice.wait(lambda f: f["type"] == "message_down")
            await alice.close()
            for i in range(60):
                await svc.request(message_down(world.ch, g, f"m{i}"))
            back = await world.user(world.t_alice)
            copy = await back.request(resume(world.ch, first["offset"], first["epoch"]))
            ctx = copy["body"]["context"]
            assert ctx["gap"] is True and "no longer available" in ctx["message"]
            texts = [f["body"]["content"]["text"] for f in back.of_type("message_down")]
            assert texts[-1] == "m59" and "m0" not in texts and len(texts) == ctx["replayed"]
            # An unknown epoch (another store) is a gap too.
            other = await back.request(resume(world.ch, 5, "not-this-epoch"))
            assert other["body"]["context"]["gap"] is True
            await world.close_all()

        run(go())
    finally:
        s.stop()


def test_resume_can_ask_where_the_log_ends_and_start_there(world):
    """A client that starts watching asks where the log ends (no offset), and if it is taken
    over before its first message, resumes at that point (`from`) and misses nothing."""
    async def go():
        svc = await world.service()
        alice = await world.user(world.t_alice, join_channel=world.ch)
        g = world.group([world.alice])
        await svc.request(message_down(world.ch, g, "old"))
        await alice.wait(lambda f: f["type"] == "message_down")
        end = await alice.request({"type": "resume", "body": {"channel_id": world.ch}})
        ctx = end["body"]["context"]
        assert end["body"]["status"] is True and ctx["replayed"] == 0 and ctx["gap"] is False and ctx["more"] is False
        start, epoch = ctx["next_offset"], ctx["epoch"]
        await alice.close()
        await svc.request(message_down(world.ch, g, "while away"))
        back = await world.user(world.t_alice)
        copy = await back.request({"type": "resume", "body": {"channel_id": world.ch, "from": start, "epoch": epoch}})
        assert copy["body"]["context"]["replayed"] == 1 and copy["body"]["context"]["next_offset"] == start + 1
        assert [f["body"]["content"]["text"] for f in back.of_type("message_down")] == ["while away"]
        both = await back.request({"type": "resume", "body": {"channel_id": world.ch, "from": 0, "offset": 0}})
        assert both["body"]["status"] is False and "not both" in both["body"]["context"]["message"]
        await world.close_all()
    run(go())
