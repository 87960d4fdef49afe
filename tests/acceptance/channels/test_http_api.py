"""The HTTP API (spec section 7) and the operator's account commands."""

import json
import subprocess
import urllib.request
import uuid

from relaytest import RELAY_BIN, Server


def test_06_07_sign_in_and_refresh(world):
    s = world.s
    d = s.ok("POST", "/auth/sign_in", {"username": "alice@example.com", "password": "alice-pw"})
    ar = d["AuthenticationResult"]
    assert ar["AccessToken"] and ar["RefreshToken"] and ar["TokenType"] == "Bearer" and ar["ExpiresIn"] >= 24 * 3600
    bad = s.call("POST", "/auth/sign_in", {"username": "alice@example.com", "password": "wrong"})
    assert bad["code"] != 10000
    unknown = s.call("POST", "/auth/sign_in", {"username": "nobody@example.com", "password": "x"})
    assert unknown["code"] != 10000
    # The same refresh token keeps working, and each new access token is valid.
    for _ in range(2):
        r = s.ok("POST", "/auth/refresh", {"username": "alice@example.com", "refresh_token": ar["RefreshToken"]})
        t = r["AuthenticationResult"]["AccessToken"]
        assert s.ok("GET", "/user/info", token=t)["user_id"] == world.alice
    assert s.call("POST", "/auth/refresh", {"username": "bob@example.com", "refresh_token": ar["RefreshToken"]})["code"] != 10000
    assert s.call("POST", "/auth/refresh", {"username": "alice@example.com", "refresh_token": ar["AccessToken"]})["code"] != 10000


def test_41_42_every_response_is_a_json_envelope_and_auth_is_required(world):
    s = world.s
    for method, path in [("GET", "/user/info"), ("GET", "/service/list"), ("POST", "/service/create"), ("GET", "/channel/list"),
                         ("POST", "/channel/create"), ("GET", f"/channel/character_list?channel_id={world.ch}"), ("POST", "/service/group/create"),
                         ("GET", "/user/group?group_id=x"), ("GET", "/file/upload?extension=png"), ("GET", f"/channel/history_message?channel_id={world.ch}")]:
        for token in (None, "bogus"):
            r = s.call(method, path, {} if method == "POST" else None, token)
            assert isinstance(r, dict) and r and r["code"] != 10000, (path, r)
    # Malformed bodies get an envelope too.
    text, ctype = s.call("POST", "/channel/create", None, world.t_owner, raw=True)
    assert ctype.startswith("application/json") and json.loads(text)["code"] != 10000
    req = urllib.request.Request(s.http + "/channel/create", data=b"{not json", method="POST", headers={"Authorization": f"Bearer {world.t_owner}"})
    try:
        urllib.request.urlopen(req, timeout=5)
    except urllib.error.HTTPError as e:
        assert json.loads(e.read())["code"] != 10000


def test_43_user_info(world):
    d = world.s.ok("GET", "/user/info", token=world.t_alice)
    assert d["user_id"] == world.alice and d["email"] == "alice@example.com"
    assert d["context"]["name"] == "Alice" and "avatar" in d["context"] and "description" in d["context"]
    assert "system_context" in d
    world.s.ok("POST", "/user/info", {"name": "Alicia", "avatar": "http://a/b.png", "description": "hi"}, world.t_alice)
    assert world.s.ok("GET", "/user/info", token=world.t_alice)["context"]["name"] == "Alicia"
    world.s.ok("POST", "/user/info", {"name": "Alice"}, world.t_alice)


def test_44_45_services_and_bindings(world):
    s = world.s
    sid2 = s.ok("POST", "/service/create", {"description": "second"}, world.t_owner)["service_id"]
    listed = s.ok("GET", "/service/list", token=world.t_owner)
    assert {"service_id": world.sid, "channel_ids": [world.ch]} in listed and {"service_id": sid2, "channel_ids": []} in listed
    s.ok("POST", "/service/bind", {"channel_id": world.ch, "service_id": sid2}, world.t_owner)
    listed = s.ok("GET", "/service/list", token=world.t_owner)
    assert {"service_id": world.sid, "channel_ids": []} in listed and {"service_id": sid2, "channel_ids": [world.ch]} in listed
    s.ok("POST", "/service/unbind", {"channel_id": world.ch, "service_id": sid2}, world.t_owner)
    assert {"service_id": sid2, "channel_ids": []} in s.ok("GET", "/service/list", token=world.t_owner)
    # Someone else's channel or service cannot be bound.
    assert s.call("POST", "/service/bind", {"channel_id": world.ch, "service_id": sid2}, world.t_alice)["code"] != 10000
    assert all(x["service_id"] != sid2 for x in s.ok("GET", "/service/list", token=world.t_alice))


def test_46_47_channels_and_members(world):
    s = world.s
    ch = s.ok("POST", "/channel/create", {"channel_name": "Alice's", "context": {"channel_description": "mine"}}, world.t_alice)["channel_id"]
    mine = [c for c in s.ok("GET", "/channel/list", token=world.t_alice) if c["channel_id"] == ch]
    assert len(mine) == 1
    assert mine[0]["channel_name"] == "Alice's" and mine[0]["channel_context"]["channel_description"] == "mine"
    members = s.ok("GET", f"/channel/character_list?channel_id={ch}&service_id={world.alice}", token=world.t_bob)["character_list"]
    assert members == [world.alice]
    # Agents are never members.
    assert world.agent not in s.ok("GET", f"/channel/character_list?channel_id={world.ch}", token=world.t_owner)["character_list"]
    s.ok("POST", "/channel/update", {"channel_id": ch, "channel_name": "Renamed", "context": {"channel_description": "new"}}, world.t_alice)
    assert [c["channel_name"] for c in s.ok("GET", "/channel/list", token=world.t_alice) if c["channel_id"] == ch] == ["Renamed"]
    assert s.call("POST", "/channel/update", {"channel_id": ch, "channel_name": "x"}, world.t_bob)["code"] != 10000
    assert any(c["channel_id"] == ch for c in s.ok("GET", "/channel/popular", token=world.t_bob))


def test_48_agents_and_profiles(world):
    s = world.s
    a2 = s.ok("POST", "/service/character/create", {"service_id": world.sid, "context": {"name": "Cat", "avatar": "http://x/cat.png", "description": "meow"}}, world.t_owner)
    assert set(a2) == {"character_id", "character_context"} and a2["character_context"] == {"name": "Cat", "avatar": "http://x/cat.png", "description": "meow"}
    agents = s.ok("GET", f"/service/character/list?service_id={world.sid}", token=world.t_owner)
    assert sorted(a["character_id"] for a in agents) == sorted([world.agent, a2["character_id"]])
    upd = s.ok("POST", "/service/character/update", {"service_id": world.sid, "character_id": a2["character_id"], "context": {"name": "Kitty"}}, world.t_owner)
    assert upd["character_context"]["name"] == "Kitty"
    profiles = s.ok("POST", "/character/fetch_profile", {"character_list": [a2["character_id"], world.alice, world.agent]}, world.t_bob)
    assert [p["character_id"] for p in profiles] == [a2["character_id"], world.alice, world.agent]
    assert profiles[1]["character_context"]["name"] == "Alice"
    assert all({"name", "avatar", "description"} <= set(p["character_context"]) for p in profiles)
    assert s.call("POST", "/service/character/create", {"service_id": world.sid, "context": {"name": "x"}}, world.t_alice)["code"] != 10000


def test_49_50_51_groups(world):
    s = world.s
    sg = s.ok("POST", "/service/group/create", {"group_id": "", "characters": [world.bob, world.alice]}, world.t_owner)
    assert isinstance(sg, str) and "//" not in sg
    ug = s.ok("POST", "/user/group/create", {"channel_id": world.ch, "group_name": "A_message_up_group", "characters": [world.alice]}, world.t_alice)["group_id"]
    for g, chars in ((sg, [world.bob, world.alice]), (ug, [world.alice])):
        for path in (f"/user/group?group_id={g}&channel_id={world.ch}&user_id=no_sender", f"/service/group?group_id={g}"):
            assert s.ok("GET", path, token=world.t_bob)["characters"] == chars
    lst = s.ok("GET", f"/user/group/list?channel_id={world.ch}&service_id={world.sid}", token=world.t_owner)
    assert isinstance(lst, list) and {"group_id": ug, "characters": [world.alice]} in lst
    assert s.call("GET", "/user/group?group_id=nope", token=world.t_bob)["code"] != 10000


def test_52_file_upload_flow(world):
    s = world.s
    d = s.ok("GET", "/file/upload?extension=txt", token=world.t_owner)
    url, key = d["url"], d["fields"]["key"]
    assert url.endswith("/")
    payload = b"hello file \x00\x01"
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in d["fields"].items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="file"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode() + payload + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    body = b"".join(parts)
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert json.loads(r.read())["code"] == 10000
    with urllib.request.urlopen(url + key, timeout=10) as r:
        assert r.read() == payload
    with urllib.request.urlopen(urllib.request.Request(url + key, method="HEAD"), timeout=10) as r:
        assert int(r.headers["Content-Length"]) == len(payload)
    # The key is single-use and unknown keys are refused.
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}), timeout=10)
        raise AssertionError("second upload with the same key was accepted")
    except urllib.error.HTTPError as e:
        assert json.loads(e.read())["code"] != 10000


def test_53_history_accepts_sdk_parameters(world):
    # A fresh channel has no history.
    r = world.s.call("GET", f"/channel/history_message?channel_id={world.ch}&limit=5&before=null", {"limit": "5"}, world.t_owner)
    assert r["code"] == 10000 and r["data"] == []


def test_sign_up_is_closed_by_default(world):
    r = world.s.call("POST", "/auth/sign_up", {"username": "eve@example.com", "password": "pw"})
    assert r["code"] != 10000 and "operator" in r["message"]
    assert world.s.call("POST", "/auth/sign_in", {"username": "eve@example.com", "password": "pw"})["code"] != 10000


def test_open_signup_flag(tmp_path):
    s = Server(tmp_path / "data", "--open-signup")
    s.start()
    try:
        assert s.call("POST", "/auth/sign_up", {"username": "eve@example.com", "password": "pw"})["code"] == 10000
        assert s.sign_in("eve@example.com", "pw")
        assert s.call("POST", "/auth/sign_up", {"username": "eve@example.com", "password": "pw"})["code"] != 10000
    finally:
        s.stop()


def test_account_cli_with_and_without_a_running_server(tmp_path):
    s = Server(tmp_path / "data")
    s.add_account("offline@example.com", "pw1", "Off Line")
    s.start()
    try:
        s.add_account("online@example.com", "pw2")
        out = subprocess.run([RELAY_BIN, "account", "list", "--json", "--data", s.data], check=True, capture_output=True, text=True, timeout=60).stdout
        emails = [json.loads(l)["email"] for l in out.splitlines()]
        assert emails == ["offline@example.com", "online@example.com"]
        assert s.sign_in("offline@example.com", "pw1") and s.sign_in("online@example.com", "pw2")
        dup = subprocess.run([RELAY_BIN, "account", "add", "online@example.com", "--password", "x", "--data", s.data], capture_output=True, text=True, timeout=60)
        assert dup.returncode != 0 and "already exists" in dup.stderr
    finally:
        s.stop()
    out = subprocess.run([RELAY_BIN, "account", "list", "--data", s.data], check=True, capture_output=True, text=True, timeout=60).stdout
    assert "online@example.com" in out and "Off Line" in out
