"""`relay run`: the child's environment, its output step, and quitting."""

import os
import subprocess
import time

from conftest import RELAY


def script(tmp_path, body):
    p = tmp_path / "script.sh"
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return p


def test_run_environment_and_output_step(make_screen, tmp_path):
    # 69, 71, 72
    out = tmp_path / "env.txt"
    s = script(tmp_path, f'env > {out}\nread x; echo "stdin=[$x]" >> {out}\necho "unexpected output line"\nmoulti step add fromscript --title "Added by the script"\nexit 3\n')
    scr = make_screen([RELAY, "run", str(s)], ready=False)
    scr.wait_for("Added by the script")
    text = scr.wait_for("unexpected output line")
    assert "moulti_run_output" in text
    env = dict(l.split("=", 1) for l in out.read_text().splitlines() if "=" in l and not l.startswith("stdin"))
    assert env["MOULTI_RUN"] == "moulti"
    assert env["MOULTI_SOCKET_PATH"].startswith("@moulti-") and env["MOULTI_SOCKET_PATH"].endswith(f"-{scr.name}-{env['MOULTI_INSTANCE_PID']}.socket")
    assert env["MOULTI_INSTANCE"] == f"{scr.name}-{env['MOULTI_INSTANCE_PID']}"
    assert "stdin=[]" in out.read_text()
    time.sleep(0.5)
    scr.keys("q")
    assert scr.wait_exit() == 0


def test_run_no_suffix_and_discard(make_screen, tmp_path):
    # 70, 71
    out = tmp_path / "env.txt"
    s = script(tmp_path, f'env > {out}\necho "should be discarded"\nmoulti step add marker --title "script done"\n')
    scr = make_screen([RELAY, "run", "-n", str(s)], env={"MOULTI_RUN_OUTPUT": "discard"}, ready=False)
    scr.wait_for("script done")
    assert "should be discarded" not in scr.capture()
    env = dict(l.split("=", 1) for l in out.read_text().splitlines() if "=" in l)
    assert env["MOULTI_INSTANCE"] == scr.name


def test_quit_dialog_terminates_child(make_screen, tmp_path):
    # 73
    marker = tmp_path / "term.txt"
    s = script(tmp_path, f"trap 'echo TERM > {marker}; exit 0' TERM\nmoulti step add up --title 'child is up'\nwhile true; do sleep 0.1; done\n")
    scr = make_screen([RELAY, "run", str(s)], ready=False)
    scr.wait_for("child is up")
    scr.keys("q")
    scr.wait_for("Are you sure you want to quit")
    assert "still running" in scr.capture()
    scr.keys("t")
    assert scr.wait_exit() == 0
    deadline = time.time() + 5
    while time.time() < deadline and not marker.exists():
        time.sleep(0.05)
    assert marker.read_text().strip() == "TERM"


def test_print_env(tmp_path):
    # 74
    env = dict(os.environ, MOULTI_INSTANCE="pe")
    r = subprocess.run([RELAY, "run", "--print-env", "--", "true"], env=env, capture_output=True, text=True)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert "MOULTI_RUN=moulti" in lines
    assert any(l.startswith("MOULTI_SOCKET_PATH=@moulti-") and l.endswith("-pe-" + l.split("-pe-")[-1]) for l in lines)
    assert any(l.startswith("MOULTI_INSTANCE_PID=") for l in lines)


def test_readme_flow_relay_run_with_relay_commands(make_screen, tmp_path):
    # What docs/console.md tells a new user: `relay run -- ./script.sh`, the script using `relay`.
    s = script(tmp_path, 'relay step add build --title "Building"\n'
                         'printf "compiling\\nlinking\\n" | relay pass build\n'
                         'relay step update build --classes success --bottom-text "done"\n'
                         'relay step add tests --title "Tests" --collapsed\n')
    bindir = os.path.dirname(RELAY)
    scr = make_screen([RELAY, "run", "--", str(s)], env={"PATH": f"{bindir}:{os.environ['PATH']}"}, ready=False)
    text = scr.wait_for("▶ Tests")
    assert "▼ Building" in text and "compiling" in text and "linking" in text and "done" in text
    scr.keys("q")
    assert scr.wait_exit() == 0
