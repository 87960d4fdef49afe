"""Keyboard-driven behaviour of the TUI, seen through tmux."""

import json
import re
import subprocess
import time


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}: {r.stdout} {r.stderr}"
    return r


def test_q_quits_with_status_0(screen):
    # 76
    screen.keys("q")
    assert screen.wait_exit() == 0


def test_second_instance_on_same_address_exits_100(screen, make_screen):
    # 3
    other = make_screen(env={"MOULTI_INSTANCE": screen.name}, ready=False)
    # The fixture puts its own name first; the explicit env wins because it comes later.
    assert other.wait_exit() == 100
    assert "Fatal: cannot listen on" in other.capture_joined()


def test_help_screen(screen):
    # 78
    screen.keys("h")
    screen.wait_for("key bindings")
    screen.keys("Space")
    screen.wait_for(lambda t: "key bindings" not in t)


def test_console_shows_messages(screen):
    # 82
    ok(screen.cli("step", "add", "c1"))
    screen.keys("z")
    text = screen.wait_for("Moulti console")
    assert "=> message=" in text and "<= message=" in text


def test_expand_collapse_all(screen):
    # 32 (raw add collapsed), x / o
    assert screen.send_to_moulti({"command": "step", "action": "add", "id": "raw", "text": "hidden line"})["done"]
    screen.wait_for("▶ raw")
    assert "hidden line" not in screen.capture()
    screen.keys("x")
    screen.wait_for("hidden line")
    screen.keys("o")
    screen.wait_for(lambda t: "hidden line" not in t and "▶ raw" in t)
    assert screen.send_to_moulti({"command": "step", "action": "add", "id": "open", "collapsed": False, "text": "shown"})["done"]
    screen.wait_for("▼ open")


def test_search_expands_and_finds(screen):
    # 79
    ok(screen.cli("step", "add", "hay", "--collapsed", "--title", "Haystack", "--text", "\n".join(f"straw {i}" for i in range(100)) + "\nthe needle here\nstraw end"))
    screen.wait_for("▶ Haystack")
    screen.keys("/")
    screen.keys("-l", "needle")
    screen.keys("Enter")
    screen.wait_for("the needle here")
    screen.keys("/")
    screen.keys("-l", "straw 1")
    screen.keys("Enter")
    screen.wait_for(lambda t: re.search(r"straw 1$", t, re.M))
    screen.keys("n")
    screen.wait_for(lambda t: re.search(r"straw 10$", t, re.M))


def test_scroll_up_stops_following_and_end_resumes(screen):
    # 80, 84
    ok(screen.cli("step", "add", "log", "--title", "Long log", "--text", "\n".join(f"row {i}" for i in range(60))))
    screen.wait_for("row 59")
    screen.keys("Tab")
    screen.keys("Tab")
    for _ in range(10):
        screen.keys("Up")
    screen.wait_for(lambda t: "row 59" not in t)
    ok(screen.cli("step", "append", "log", "row 60"))
    time.sleep(0.3)
    assert "row 60" not in screen.capture(), "not following after scrolling up"
    screen.keys("End")
    screen.wait_for("row 60")
    # f maximizes the focused log: more than 25 rows visible; f again restores.
    screen.keys("f")
    screen.wait_for(lambda t: len(re.findall(r"row \d+", t)) > 30)
    screen.keys("f")
    screen.wait_for(lambda t: len(re.findall(r"row \d+", t)) == 25)


def test_save_and_load_round_trip(screen, make_screen, tmp_path):
    # 77
    ok(screen.cli("step", "add", "one", "--title", "Saved step", "-c", "success", "--text", "alpha\n\x1b[31mred\nbeta"))
    ok(screen.cli("divider", "add", "two", "--title", "Saved divider"))
    ok(screen.cli("set", "--title", "Saved title"))
    screen.wait_for("Saved divider")
    screen.keys("s")
    screen.wait_for("successfully saved")
    dirs = [p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith(screen.name + "-")]
    assert len(dirs) == 1
    d = dirs[0]
    names = sorted(p.name for p in d.iterdir())
    assert "0-instance.properties.json" in names
    assert "1-one.properties.json" in names and "1-one.contents.log" in names and "2-two.properties.json" in names
    props = json.loads((d / "1-one.properties.json").read_text())
    assert props["command"] == "step" and props["classes"] == "success" and props["title"] == "Saved step"
    assert (d / "1-one.contents.log").read_text().splitlines()[1] == "\x1b[31mred\x1b[0m"
    assert "alpha" in (d / "session.txt").read_text()
    fresh = make_screen()
    r = fresh.cli("load", str(d))
    assert r.returncode == 0, r.stderr
    # `load` streams each step's saved contents after creating the widgets, so the contents
    # may reach the screen a frame after the divider.
    text = fresh.wait_for(lambda s: all(x in s for x in ("Saved divider", "Saved step", "alpha", "beta")),
                          what="the loaded step with its contents, and the divider")
    assert text.splitlines()[0].strip() == "Saved title"


def test_abstract_socket_name(screen):
    # 1
    import pwd, os
    user = pwd.getpwuid(os.getuid()).pw_name
    names = open("/proc/net/unix").read()
    assert f"@moulti-{user}-{screen.name}.socket" in names


def test_socket_path_created_and_removed(make_screen, tmp_path):
    # 2
    path = tmp_path / "deep" / "dir" / "x.socket"
    s = make_screen(env={"MOULTI_SOCKET_PATH": str(path)}, ready=False)
    s.env["MOULTI_SOCKET_PATH"] = str(path)
    # The moulti client binds its own socket in the run directory, which must exist.
    s.env["XDG_RUNTIME_DIR"] = str(tmp_path)
    s.wait_ready()
    assert path.exists()
    ok(s.cli("step", "add", "viapath", "--title", "via path"))
    s.wait_for("via path")
    s.keys("q")
    assert s.wait_exit() == 0
    assert not path.exists()
