"""The two Python examples of the scripting seed, run verbatim with the real moulti package."""

from pathlib import Path

EXAMPLES = Path(__file__).parent / "examples"


def test_example1_two_connections(screen):
    r = screen.python(EXAMPLES / "seed_example1.py")
    assert r.returncode == 0, r.stderr
    text = screen.wait_for("Python made this: " + "~" * 62)
    assert "Step created from Python" in text
    lines = [l for l in text.splitlines() if "Python made this: " in l]
    # Default max_height 25: the last 25 of the 94 lines, following the end.
    assert len(lines) == 25, text
    assert lines[0].strip().startswith("Python made this: " + "f" * 62)
    assert "Python made this: " + "!" * 62 not in text


def test_example2_one_connection_with_fd(screen):
    r = screen.python(EXAMPLES / "seed_example2.py")
    assert r.returncode == 0, r.stderr
    passwd = [l for l in Path("/etc/passwd").read_text().splitlines()]
    text = screen.wait_for(passwd[-1][:60], what="last line of /etc/passwd")
    assert "/etc/passwd:" in text
    shown = [l for l in passwd[-25:] if l[:60] in text]
    assert len(shown) == min(25, len(passwd))
