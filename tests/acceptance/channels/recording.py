"""SDK instances for the tests that record what their handlers saw, and the echo service the
scenarios share. Free of the ws:// shim, so that tls_sdk_scenario.py, which must run the SDK
unpatched, uses the same classes as the tests that load sdkshim."""

from moobius import Moobius


class Recording(Moobius):
    """A test's SDK instance: its handlers append (kind, payload) to `events`."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.events = []


def events(instance, kind):
    """What a `Recording` instance's handlers recorded under `kind`."""
    return [e for k, e in instance.events if k == kind]


class EchoBase(Recording):
    """A service with an "Echo Bot" agent that shows each joining user its UI (`push_ui`, each
    scenario's own) and echoes every message to its sender, recording start, join, leave and
    message_up."""

    agent = None

    async def before_channel_init(self):
        self.agent = await self.create_agent("Echo Bot", description="echoes")

    async def on_start(self):
        self.events.append(("start", None))

    async def push_ui(self, ch, uid):
        raise NotImplementedError

    async def on_join(self, action):
        self.events.append(("join", action))
        await self.push_ui(action.channel_id, action.sender)

    async def on_leave(self, action):
        self.events.append(("leave", action))

    async def on_message_up(self, message):
        self.events.append(("message_up", message))
        await self.send_message(message.content.text + " (echo)", message.channel_id, self.agent.character_id, [message.sender])
