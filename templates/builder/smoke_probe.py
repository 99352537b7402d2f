"""pypack: the smoke run's probe, run as the container's first process.

    python -c CODE PORT HOST DEADLINE [--as UID:GID] -- COMMAND...

Starts COMMAND (the image's own) as a child. Then, from inside the
container, asks GET / with the Host header HOST until an answer, the
child's exit, or DEADLINE seconds. The container has no network, so
nothing outside is reached; that the app listens beyond loopback (as it
must to be reachable through a published port) is read from /proc/net/tcp.

It watches rather than trusts the port: when nothing listens on PORT but
the app listens on another port that answers HTTP, that answer counts and
the verdict says which port it was.

With --as, the probe runs as root and the app as UID:GID, and the app's
directory is made the app's own for this run only (everything under /app
but the venv): what the app then creates, changes or removes there is
listed in the verdict, so the image can give it exactly those paths.

The child's output all goes to stderr; stdout carries one verdict line:
    pypack-smoke: {json}
with one of the keys answered / exited / loopback / timeout, and "writes"
when --as was given.
"""

import json
import os
import signal
import socket
import sys
import time

MARKER = "pypack-smoke:"
APP = "/app"
SKIPPED = (".venv", "__pycache__")
# Files larger than this, or past this many, are not made the app's own
# (that copies them in the container's storage); a change to one shows as
# a failed write.
LARGE = 16 * 1024 * 1024
MANY = 10000


def child(command, user):
    os.dup2(2, 1)
    if user is not None:
        uid, gid = user
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    try:
        os.execvp(command[0], command)
    except OSError as e:
        print("pypack-smoke: cannot start %s: %s" % (command[0], e), file=sys.stderr, flush=True)
        os._exit(127)


def get(port, host):
    """(status, body) of GET /, or None when nothing answers HTTP."""
    for address in ("127.0.0.1", "::1"):
        try:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect((address, port))
                s.sendall(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % host).encode())
                data = b""
                while len(data) < 16384:
                    chunk = s.recv(16384 - len(data))
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            continue
        text = data.decode("utf-8", "replace")
        if not text.startswith("HTTP/"):
            return None
        try:
            status = int(text.split(" ", 2)[1])
        except (IndexError, ValueError):
            return None
        body = text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in text else ""
        return status, body
    return None


def listening():
    """{port: [local addresses (hex, as /proc shows them)]} of listening sockets."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A":
                found.setdefault(int(hex_port, 16), []).append(address)
    return found


def loopback_only(addresses):
    def loopback(a):
        if len(a) == 8:  # IPv4, little-endian words: 127.x.x.x ends in 7F
            return a.endswith("7F")
        return a == "00000000000000000000000001000000" or (
            a.startswith("0000000000000000FFFF0000") and a.endswith("7F")
        )

    return bool(addresses) and all(loopback(a) for a in addresses)


def tree():
    """{path relative to /app: (is_dir, mtime_ns, size)}, the venv aside."""
    found = {}
    for root, dirs, files in os.walk(APP):
        dirs[:] = [d for d in dirs if not (root == APP and d in SKIPPED) and d != "__pycache__"]
        for name in dirs + files:
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            rel = os.path.relpath(path, APP)
            found[rel] = (os.path.isdir(path) and not os.path.islink(path), st.st_mtime_ns, st.st_size)
    return found


def hand_over(before, uid, gid):
    """Makes /app's directories and small files the app's own, for this run."""
    os.chown(APP, uid, gid)
    files = 0
    for rel, (is_dir, _, size) in sorted(before.items()):
        if not is_dir:
            if size > LARGE or files >= MANY:
                continue
            files += 1
        try:
            os.chown(os.path.join(APP, rel), uid, gid, follow_symlinks=False)
        except OSError:
            pass


def writes(before):
    after = tree()
    created = sorted(r + ("/" if d else "") for r, (d, _, _) in after.items() if r not in before)
    removed = sorted(r for r in before if r not in after)
    changed = sorted(
        r for r, (d, m, s) in after.items() if r in before and not d and (m, s) != before[r][1:]
    )
    return {"created": created, "changed": changed, "removed": removed}


def verdict(result, pid, before):
    if before is not None:
        result["writes"] = writes(before)
    print(MARKER, json.dumps(result), flush=True)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    sys.exit(0)


def main():
    port, host, deadline = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    rest = sys.argv[4:]
    user = None
    if rest[:1] == ["--as"]:
        uid, gid = rest[1].split(":")
        user = (int(uid), int(gid))
        rest = rest[2:]
    command = rest[1:]  # past "--"
    before = None
    if user is not None:
        before = tree()
        hand_over(before, *user)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        child(command, user)
    start = time.monotonic()
    elsewhere = None  # (port, answer, first seen)
    while True:
        answer = get(port, host)
        sockets = listening()
        if answer is not None:
            if loopback_only(sockets.get(port, [])):
                verdict({"loopback": sockets[port]}, pid, before)
            verdict({"answered": answer[0], "body": answer[1][:4096], "port": port}, pid, before)
        if port not in sockets:
            # Nothing on the expected port: an HTTP answer on another one.
            for other in sorted(p for p in sockets if p != port and not loopback_only(sockets[p])):
                found = get(other, host)
                if found is not None:
                    if elsewhere is None or elsewhere[0] != other:
                        elsewhere = (other, found, time.monotonic())
                    break
            # A moment's grace for the expected port to open after another.
            if elsewhere is not None and time.monotonic() - elsewhere[2] > 1.0:
                other, found, _ = elsewhere
                verdict({"answered": found[0], "body": found[1][:4096], "port": other}, pid, before)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            verdict({"exited": code, "listening": sorted(sockets)}, pid, before)
        if time.monotonic() - start > deadline:
            verdict({"timeout": True, "listening": sorted(sockets)}, pid, before)
        time.sleep(0.01)


main()
