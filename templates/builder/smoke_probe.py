"""pypack: the smoke run's probe, run as the container's first process.

    python -c CODE PORT HOST DEADLINE -- COMMAND...

Starts COMMAND (the image's own) as a child. Then, from inside the
container, asks GET / on PORT with the Host header HOST until an answer,
the child's exit, or DEADLINE seconds. The container has no network, so
nothing outside is reached; that the app listens beyond loopback (as it
must to be reachable through a published port) is read from /proc/net/tcp.
The child's output all goes to stderr; stdout carries one verdict line:
    pypack-smoke: {json}
with one of the keys answered / exited / loopback / timeout.
"""

import json
import os
import signal
import socket
import sys
import time

MARKER = "pypack-smoke:"


def child(command):
    os.dup2(2, 1)
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


def listening_addresses(port):
    """The local addresses of sockets listening on PORT (hex, as /proc shows them)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def loopback_only(addresses):
    def loopback(a):
        if len(a) == 8:  # IPv4, little-endian words: 127.x.x.x ends in 7F
            return a.endswith("7F")
        return a == "00000000000000000000000001000000" or (
            a.startswith("0000000000000000FFFF0000") and a.endswith("7F")
        )

    return bool(addresses) and all(loopback(a) for a in addresses)


def verdict(result, pid):
    print(MARKER, json.dumps(result), flush=True)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    sys.exit(0)


def main():
    port, host, deadline = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    command = sys.argv[5:]
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        child(command)
    start = time.monotonic()
    while True:
        answer = get(port, host)
        if answer is not None:
            addresses = listening_addresses(port)
            if loopback_only(addresses):
                verdict({"loopback": addresses}, pid)
            verdict({"answered": answer[0], "body": answer[1][:4096]}, pid)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            verdict({"exited": code}, pid)
        if time.monotonic() - start > deadline:
            verdict({"timeout": True, "listening": listening_addresses(port)}, pid)
        time.sleep(0.02)


main()
