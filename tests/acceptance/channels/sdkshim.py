"""The one patch the real SDK needs to reach a plain ws:// server (spec 10.2): moobius always
passes an `ssl` context to `websockets.connect`, which websockets refuses for ws:// URIs."""

import json

import websockets

import moobius.network.ws_client as _ws_client


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
        log_config={"terminal_log_level": "WARNING", "error_log_file": None},
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
