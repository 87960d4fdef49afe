"""Side-by-side benchmark of Relay's console face and the real Moulti 1.34.1.

Both instances run in a private tmux server (200x50), as in docs/benchmarks.md. Every metric
drives both with the same client (the `moulti` CLI or a minimal TLV client written here), so
the difference is the instance. Usage: see scripts/bench-console.
"""

import argparse
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

USER = pwd.getpwuid(os.getuid()).pw_name
TMUX = ["tmux", "-L", f"relaybench{os.getpid()}", "-f", "/dev/null"]


def tmux(*args, check=True):
    return subprocess.run([*TMUX, *args], capture_output=True, text=True, check=check)


class Client:
    """Minimal TLV client: one connection, request/response."""

    def __init__(self, instance):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(f"\0moulti-{USER}-{instance}.socket")
        self.n = 0

    def send(self, msg):
        self.n += 1
        msg = dict(msg, msgid=f"m{self.n}")
        payload = json.dumps(msg).encode()
        self.sock.sendall(b":JSON:%013d:" % len(payload) + payload)
        head = self._read(20)
        return json.loads(self._read(int(head[6:19])))

    def pass_fd(self, step, fd, read_size=131072):
        """`pass` with the descriptor attached, waiting for the reply (sent at EOF)."""
        self.n += 1
        payload = json.dumps({"command": "pass", "id": step, "read_size": read_size, "msgid": f"m{self.n}"}).encode()
        socket.send_fds(self.sock, [b":JSON:%013d:" % len(payload) + payload], [fd])
        head = self._read(20)
        return json.loads(self._read(int(head[6:19])))

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    def close(self):
        self.sock.close()


class Instance:
    def __init__(self, kind, cmd, workdir):
        self.kind = kind
        self.name = f"b{kind}{os.getpid()}x{int(time.time() * 1000) % 100000}"
        self.env = dict(os.environ, MOULTI_INSTANCE=self.name)
        self.env.pop("MOULTI_SOCKET_PATH", None)
        self.t0 = time.perf_counter()
        tmux("new-session", "-d", "-s", self.name, "-x", "200", "-y", "50",
             f"cd {workdir} && exec env MOULTI_INSTANCE={self.name} {cmd} init")
        self.pid = int(tmux("display", "-p", "-t", self.name, "#{pane_pid}").stdout.strip())

    def wait_ready(self, timeout=30):
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                c = Client(self.name)
                r = c.send({"command": "ping"})
                c.close()
                if r.get("done"):
                    return time.perf_counter() - self.t0
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError(f"{self.kind} did not start")

    def screen(self):
        return tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait_text(self, text, timeout=300):
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if text in self.screen():
                return True
            time.sleep(0.05)
        return False

    def rss_kib(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None

    def stop(self):
        try:
            os.kill(self.pid, 15)
        except ProcessLookupError:
            pass
        time.sleep(0.2)
        tmux("kill-session", "-t", self.name, check=False)


def add_msg(i):
    return {"id": f"s{i}", "title": f"Step {i}", "classes": "standard", "scroll_on_activity": False,
            "collapsed": False, "top_text": "", "bottom_text": "", "text": "", "auto_scroll": True,
            "min_height": 1, "max_height": 25, "command": "step", "action": "add"}


def bench_startup(kind, cmd, workdir, runs):
    times = []
    for _ in range(runs):
        inst = Instance(kind, cmd, workdir)
        times.append(inst.wait_ready())
        inst.stop()
    return statistics.median(times)


def bench_adds(kind, cmd, workdir, count, block):
    inst = Instance(kind, cmd, workdir)
    inst.wait_ready()
    c = Client(inst.name)
    per_block = []
    t_all = time.perf_counter()
    t_block = t_all
    for i in range(1, count + 1):
        r = c.send(add_msg(i))
        assert r["done"], r
        if i % block == 0:
            now = time.perf_counter()
            per_block.append((now - t_block) / block * 1000)
            t_block = now
    total = time.perf_counter() - t_all
    c.close()
    inst.stop()
    return {"count": count, "adds_per_s": count / total, "ms_per_add_by_block": [round(x, 3) for x in per_block]}


def bench_cli_adds(kind, cmd, workdir, count, client):
    inst = Instance(kind, cmd, workdir)
    inst.wait_ready()
    t = time.perf_counter()
    for i in range(1, count + 1):
        r = subprocess.run([client, "step", "add", f"s{i}", f"--title=Step {i}"], env=inst.env, capture_output=True)
        assert r.returncode == 0, r.stderr
    total = time.perf_counter() - t
    inst.stop()
    return total / count * 1000


def bench_cli_adds_shell(kind, cmd, workdir, count, client):
    """The same CLI adds from a shell loop, without Python's process-spawning overhead."""
    inst = Instance(kind, cmd, workdir)
    inst.wait_ready()
    script = f'for i in $(seq 1 {count}); do "$0" step add "s$i" "--title=Step $i" || exit 1; done'
    t = time.perf_counter()
    subprocess.run(["bash", "-c", script, client], env=inst.env, check=True, capture_output=True)
    total = time.perf_counter() - t
    inst.stop()
    return total / count * 1000


def bench_pass(kind, cmd, workdir, path, last, client, timeout):
    """Passes a regular file through one in-process connection (no CLI start-up in the
    figure), then polls the screen until the last line shows."""
    inst = Instance(kind, cmd, workdir)
    inst.wait_ready()
    subprocess.run([client, "step", "add", "big", "--title=Big"], env=inst.env, check=True, capture_output=True)
    c = Client(inst.name)
    t = time.perf_counter()
    with open(path, "rb") as f:
        r = c.pass_fd("big", f.fileno())
    assert r.get("done"), r
    returned = time.perf_counter() - t
    c.close()
    visible = inst.wait_text(last, timeout=timeout)
    shown = time.perf_counter() - t
    time.sleep(0.5)
    rss = inst.rss_kib()
    inst.stop()
    return {"returned_s": round(returned, 3), "visible_s": round(shown, 3) if visible else None, "rss_kib": rss}


def make_input(path, lines):
    colours = [31, 32, 33, 34, 35, 36]
    with open(path, "w") as f:
        for i in range(1, lines + 1):
            c = colours[i % len(colours)]
            f.write(f"\x1b[{c}mline {i:07d}\x1b[0m some ANSI-coloured output text abcdefghijklmnopqrstuvwxyz0123456789\n")
    return f"line {lines:07d}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--moulti", required=True, help="the moulti CLI of a venv with moulti==1.34.1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="fewer runs and smaller Moulti workloads")
    ap.add_argument("--systems", default="relay,moulti", help="comma-separated subset of relay,moulti")
    a = ap.parse_args()
    work = Path(a.out).parent / "console-work"
    work.mkdir(parents=True, exist_ok=True)
    small = work / "200k.txt"
    big = work / "1m.txt"
    last_small = make_input(small, 200_000)
    last_big = make_input(big, 1_000_000)
    wanted = a.systems.split(",")
    systems = {k: v for k, v in {"relay": a.relay, "moulti": a.moulti}.items() if k in wanted}
    results = {}
    for kind, cmd in systems.items():
        r = {}
        print(f"[{kind}] startup", flush=True)
        r["startup_s"] = bench_startup(kind, cmd, work, 3 if a.quick else 5)
        n_adds = 1000 if kind == "relay" else (100 if a.quick else 300)
        print(f"[{kind}] {n_adds} adds over one connection", flush=True)
        r["adds"] = bench_adds(kind, cmd, work, n_adds, 50 if kind == "moulti" else 100)
        n_cli = 50 if (a.quick and kind == "moulti") else 200
        print(f"[{kind}] {n_cli} CLI adds (moulti CLI)", flush=True)
        r["cli_add_ms_moulti_cli"] = bench_cli_adds(kind, cmd, work, n_cli, a.moulti)
        if kind == "relay":
            print("[relay] 200 CLI adds (relay CLI)", flush=True)
            r["cli_add_ms_relay_cli"] = bench_cli_adds(kind, cmd, work, 200, a.relay)
            r["cli_add_ms_relay_cli_shell"] = bench_cli_adds_shell(kind, cmd, work, 200, a.relay)
        print(f"[{kind}] pass 200k ANSI lines", flush=True)
        r["pass_200k"] = bench_pass(kind, cmd, work, small, last_small, a.moulti, 300)
        print(f"[{kind}] pass 1M ANSI lines", flush=True)
        r["pass_1m"] = bench_pass(kind, cmd, work, big, last_big, a.moulti, 600)
        results[kind] = r
        print(json.dumps(r), flush=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "nproc": os.cpu_count(),
            "loadavg_start": os.getloadavg(), "python": sys.version.split()[0]}
    Path(a.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(json.dumps({"meta": meta, "results": results}, indent=2))
    tmux("kill-server", check=False)


if __name__ == "__main__":
    main()
