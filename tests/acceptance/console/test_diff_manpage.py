"""`diff` and `manpage`: the real `moulti diff` (which only sends set/add) and Relay's own."""

DIFF = """commit 0123abc
    Fix the greeting

diff --git a/src/hello.txt b/src/hello.txt
index 1..2 100644
--- a/src/hello.txt
+++ b/src/hello.txt
@@ -1,3 +1,3 @@ greeting
 first line
-hello wrold
+hello world
 last line
diff --git a/docs/new.md b/docs/new.md
new file mode 100644
--- /dev/null
+++ b/docs/new.md
@@ -0,0 +1 @@
+brand new
"""

MAN = ("DEMO(1)          User Commands          DEMO(1)\n\n"
       "N\bNA\bAM\bME\bE\n       demo - show a demo page\n\n"
       "DESCRIPTION\n       The demo command does nothing at all.\n\n"
       "GNU demo 1.0          2026          DEMO(1)\n")


def show_diff(screen, prog, tmp_path):
    f = tmp_path / "change.diff"
    f.write_text(DIFF)
    env = dict(screen.env, MOULTI_DIFF_NO_DELTA="1")
    import subprocess
    r = subprocess.run([prog, "diff", "parse", str(f)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    text = screen.wait_for("brand new")
    assert "src/hello.txt" in text and "added: docs/new.md" in text
    assert "-hello wrold" in text and "+hello world" in text
    assert "Fix the greeting" in text
    assert "@@ 1,3 1,3 @@ +1-1 greeting" in text, text
    assert text.splitlines()[0].strip() == str(f)


def test_moulti_diff_against_relay(screen, tmp_path):
    import shutil
    show_diff(screen, shutil.which("moulti"), tmp_path)


def test_relay_diff(screen, tmp_path):
    from conftest import RELAY
    show_diff(screen, RELAY, tmp_path)


def test_relay_manpage(screen, tmp_path):
    f = tmp_path / "demo.1.txt"
    f.write_text(MAN)
    r = screen.relay("manpage", "parse", str(f))
    assert r.returncode == 0, r.stderr
    text = screen.wait_for("GNU demo 1.0")
    assert "▼ NAME" in text and "▼ DESCRIPTION" in text
    assert "demo - show a demo page" in text and "does nothing at all" in text
