"""The real `moulti` CLI (1.34.1) against a `relay init` instance; assertions on the screen."""

import re
import subprocess
import time


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}: {r.stdout} {r.stderr}"
    return r


def test_startup_screen(screen):
    # 75
    text = screen.wait_for("Quit")
    first = text.splitlines()[0]
    assert first.strip() == "Moulti"
    assert abs(first.index("Moulti") - (120 - 6) // 2) <= 1, "title centred"
    footer = text.rstrip("\n").splitlines()[-1]
    for hint in ["l  Lock scroll", "s  Save", "z  Console", "x  Expand all", "o  Collapse all", "d  Light", "h  Help", "q  Quit"]:
        assert hint in footer, footer


def test_step_add_update_append_delete(screen):
    # 30, 31, 33, 34, 36
    ok(screen.cli("step", "add", "s1", "--title", "First step", "-bt", "bottom words"))
    screen.wait_for("▼ First step")
    ok(screen.cli("step", "update", "s1", "--text", "a\nb"))
    text = screen.wait_for(lambda t: re.search(r"^\s+a\s*$", t, re.M) and re.search(r"^\s+b\s*$", t, re.M))
    ok(screen.cli("step", "update", "s1", "-tt", "top words"))
    text = screen.wait_for("top words")
    assert "First step" in text and "bottom words" in text, "only top_text changed"
    ok(screen.cli("step", "update", "s1", "--title", ""))
    screen.wait_for("▼ s1")
    ok(screen.cli("step", "append", "s1", "l1", "l2"))
    text = screen.wait_for("l2")
    assert text.index("l1") < text.index("l2") < text.index("bottom words")
    ok(screen.cli("step", "delete", "s1"))
    screen.wait_for(lambda t: "▼ s1" not in t)
    r = screen.cli("step", "delete", "s1")
    assert r.returncode == 1 and "unknown id: s1" in r.stderr


def test_duplicate_and_markup_errors_from_cli(screen):
    # 22, 25
    ok(screen.cli("step", "add", "dup"))
    r = screen.cli("step", "add", "dup")
    assert r.returncode == 1 and "id dup already in use" in r.stderr
    r = screen.cli("step", "add", "m", "--title", "[/]")
    assert r.returncode == 1 and "closing tag '[/]' at position 0 has nothing to close" in r.stderr


def test_pass_lines_tabs_colours_and_clear(screen):
    # 45, 46, 47, 48, 52
    ok(screen.cli("step", "add", "p", "--title", "Passed", "-Mh", "0"))
    data = "a\tb\n\x1b[31mred\nstill\n\x1b[0mplain\npartial-"
    ok(screen.cli("pass", "p", input=data + "line\nunterminated-last"))
    text = screen.wait_for("unterminated-last")
    assert "a        b" in text
    assert "partial-line" in text
    ansi = screen.capture_ansi()
    # tmux reports the 16 ANSI colours as indexed colours (`38;5;1`) or SGR 31.
    red = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:31|38;5;1)m[^\x1b]*(red|still)")
    assert len(red.findall(ansi)) >= 2, ansi
    plain_line = [l for l in ansi.splitlines() if "plain" in l][0]
    assert not re.search(r"(?:31|38;5;1)m[^\x1b]*plain", plain_line)
    # Without --append the step is cleared first; with it, lines are kept.
    ok(screen.cli("pass", "p", input="fresh\n"))
    text = screen.wait_for(lambda t: "fresh" in t and "unterminated-last" not in t)
    ok(screen.cli("pass", "p", "--append", input="more\n"))
    text = screen.wait_for("more")
    assert "fresh" in text
    # Empty input: no line, still success.
    ok(screen.cli("pass", "p", "-a", input=""))


def test_pass_big_file_and_pipe(screen, tmp_path):
    # 50
    big = tmp_path / "big.txt"
    with big.open("w") as f:
        for i in range(1, 200001):
            f.write(f"line {i:06d} " + "x" * 87 + "\n")
    ok(screen.cli("step", "add", "big", "--title", "Big"))
    with big.open() as f:
        r = subprocess.run(["moulti", "pass", "big"],
                           stdin=f, env=screen.env, capture_output=True, text=True, timeout=120)
    ok(r)
    screen.wait_for("line 200000", timeout=30)
    ok(screen.cli("step", "delete", "big"))
    ok(screen.cli("step", "add", "piped"))
    r = subprocess.run(f"seq 1 50000 | moulti pass piped", shell=True, env=screen.env, capture_output=True, text=True, timeout=60)
    ok(r)
    screen.wait_for(lambda t: re.search(r"^\s+50000\s*$", t, re.M), timeout=30)


def test_divider_and_class_colours(screen):
    # 40
    ok(screen.cli("divider", "add", "d1", "--title", "A divider"))
    for cls in ["success", "warning", "error", "inactive", "standard"]:
        ok(screen.cli("step", "add", cls, "--title", f"class {cls}", "-c", cls))
    screen.wait_for("class standard")
    ansi = screen.capture_ansi()
    colours = {"success": "0;255;0", "warning": "255;165;0", "error": "255;99;71", "inactive": "190;190;190", "standard": "0;69;120"}
    for cls, rgb in colours.items():
        line = [l for l in ansi.splitlines() if f"class {cls}" in l][0]
        assert f"48;2;{rgb}" in line, (cls, repr(line))
    text = screen.capture()
    assert "A divider" in text and "────" in text


def test_set_title_and_progress(screen):
    # 62, 63, 65
    ok(screen.cli("set", "--title", "Probe"))
    screen.wait_for(lambda t: t.splitlines()[0].strip() == "Probe")
    ok(screen.cli("set", "--progress-bar", "--progress-target", "10", "--progress", "+3"))
    screen.wait_for("30%")
    ok(screen.cli("set", "--progress", "+1"))
    screen.wait_for("40%")
    ok(screen.cli("set", "--progress", "5"))
    screen.wait_for("50%")
    ok(screen.cli("set", "-pt", "0"))
    screen.wait_for("--%")
    r = screen.cli("set", "--title", "[/]")
    assert r.returncode == 1 and "nothing to close" in r.stderr


def test_step_direction_and_position(screen):
    # 66
    ok(screen.cli("step", "add", "old", "--title", "older step"))
    ok(screen.cli("step", "add", "new", "--title", "newer step"))
    text = screen.wait_for("newer step")
    assert text.index("older step") < text.index("newer step")
    ok(screen.cli("set", "--step-direction", "up"))
    screen.wait_for(lambda t: "newer step" in t and t.index("newer step") < t.index("older step"))
    ok(screen.cli("set", "--step-position", "bottom"))
    text = screen.wait_for(lambda t: [i for i, l in enumerate(t.splitlines()) if "older step" in l] and
                           [i for i, l in enumerate(t.splitlines()) if "older step" in l][0] > 30)


def test_scroll_command(screen):
    # 67, 81
    for i in range(40):
        ok(screen.cli("step", "add", f"s{i}", "--title", f"step number {i}", "--collapsed"))
    screen.wait_for("step number 30")
    ok(screen.cli("scroll", "s39"))
    screen.wait_for("step number 39")
    ok(screen.cli("scroll", "s0"))
    screen.wait_for("step number 0")
    screen.keys("l")
    screen.wait_for("Unlock scroll")
    ok(screen.cli("scroll", "s39"))
    time.sleep(0.3)
    assert "step number 39" not in screen.capture(), "locked: scroll ignored"
    r = screen.cli("scroll", "nope")
    assert r.returncode == 1 and "unknown id: nope" in r.stderr


def test_wait_gives_up_without_instance(screen):
    # 68
    env = dict(screen.env, MOULTI_INSTANCE="nobody-here-" + screen.name)
    r = subprocess.run(["moulti", "wait", "-m", "3", "-d", "10"], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "Giving up." in r.stdout


def test_questions_answered_by_the_user(screen):
    # 54, 55, 56, 83
    ok(screen.cli("inputquestion", "add", "q1", "--title", "Question one", "--text", "What is your name?"))
    screen.wait_for("What is your name?")
    r = screen.cli("inputquestion", "get-answer", "q1")
    assert r.returncode == 1 and "answer not available yet" in r.stderr
    waiter = subprocess.Popen(["moulti", "inputquestion", "get-answer", "q1", "--wait"], env=screen.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    assert waiter.poll() is None, "get-answer --wait must wait"
    screen.keys("C-y")
    time.sleep(0.2)
    screen.keys("-l", "Luka")
    screen.keys("Enter")
    out, err = waiter.communicate(timeout=10)
    assert waiter.returncode == 0 and out.strip() == "Luka", err
    r = ok(screen.cli("inputquestion", "get-answer", "q1"))
    assert r.stdout.strip() == "Luka"


def test_question_button_uses_input(screen):
    # 59
    ok(screen.cli("question", "add", "q", "--text", "Name?", "--button", "My name is {input}", "success", "Send"))
    screen.wait_for("Send")
    screen.keys("C-y")
    time.sleep(0.2)
    screen.keys("-l", "Luka")
    screen.keys("Tab")
    screen.keys("Enter")
    deadline = time.time() + 10
    while time.time() < deadline:
        r = screen.cli("question", "get-answer", "q")
        if r.returncode == 0:
            break
        time.sleep(0.1)
    assert r.stdout.strip() == "My name is Luka", r.stderr


def test_buttonquestion_default_buttons(screen):
    # 58
    reply = screen.send_to_moulti({"command": "buttonquestion", "action": "add", "id": "b", "collapsed": False, "text": "Sure?"})
    assert reply["done"] is True
    text = screen.wait_for("Cancel")
    assert "Yes" in text and "No" in text
    screen.keys("C-y")
    time.sleep(0.2)
    screen.keys("Tab")
    screen.keys("Enter")
    deadline = time.time() + 10
    while time.time() < deadline:
        r = screen.send_to_moulti({"command": "buttonquestion", "action": "get-answer", "id": "b"})
        if r["done"]:
            break
        time.sleep(0.1)
    assert r.get("answer") == "no"
