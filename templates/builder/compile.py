"""pypack: compile .py files to .pyc with the image's own interpreter.

Run by pypack (in a container, or on the host through the image's own
loader and libraries: PYPACK_PYTHON then holds, as JSON, the argv that
starts this interpreter) as:
    python compile.py OUT IMAGE_DIR=DIR [IMAGE_DIR=DIR ...]
Each DIR (a path in this container) holds what IMAGE_DIR will hold in the
image; every .py under it is compiled as if it lived under IMAGE_DIR (that
path is what tracebacks will show) and the .pyc is written under OUT at
IMAGE_DIR's __pycache__ path. The pair "@stdlib" compiles the interpreter's
own standard library in place (its site-packages left out, and files that
already have a .pyc left alone); "@stdlib=ROOT" does so for an interpreter
whose image is unpacked at ROOT. Files that do not compile (Python 2 leftovers,
templates named .py) are skipped, as pip does.

Reproducible: the "unchecked-hash" mode records no timestamp, and the files
are split into a number of chunks that depends only on how many there are
(one for a small set, else four), each compiled in its own fresh process in
sorted order, so a file's bytes never depend on the machine's core count or
on what another process compiled first. PYTHONHASHSEED must
be fixed by the caller (set and frozenset constants are ordered by hash).
"""

import importlib.util
import json
import os
import py_compile
import subprocess
import sys
import sysconfig

CHUNKS = 4
SMALL = 100


SKIPPED_IN_PLACE = {"__pycache__", "site-packages", "dist-packages"}


def sources(pairs):
    found = []
    for pair in pairs:
        in_place = pair == "@stdlib" or pair.startswith("@stdlib=")
        if in_place:
            local_dir = sysconfig.get_paths()["stdlib"]
            image_dir = local_dir
            if pair != "@stdlib":
                image_dir = "/" + os.path.relpath(local_dir, pair.split("=", 1)[1])
        else:
            image_dir, local_dir = pair.split("=", 1)
        skipped = SKIPPED_IN_PLACE if in_place else {"__pycache__"}
        for root, dirs, files in os.walk(local_dir):
            dirs[:] = sorted(d for d in dirs if d not in skipped)
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                local = os.path.join(root, name)
                image_path = os.path.join(image_dir, os.path.relpath(local, local_dir))
                if in_place and os.path.exists(importlib.util.cache_from_source(local)):
                    continue
                found.append((local, image_path))
    return found


def compile_chunk(out, pairs, chunk, chunks):
    for number, (local, image_path) in enumerate(sources(pairs)):
        if number % chunks != chunk:
            continue
        target = out + importlib.util.cache_from_source(image_path)
        try:
            py_compile.compile(
                local,
                cfile=target,
                dfile=image_path,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        except (py_compile.PyCompileError, SyntaxError, ValueError, UnicodeError):
            pass


def main():
    if sys.argv[1] == "--chunk":
        compile_chunk(sys.argv[4], sys.argv[5:], int(sys.argv[2]), int(sys.argv[3]))
        return
    out, pairs = sys.argv[1], sys.argv[2:]
    # A few files (an app) are not worth the processes; how many chunks is
    # decided by the file count alone, so it is the same on every machine.
    chunks = 1 if len(sources(pairs)) < SMALL else CHUNKS
    if chunks == 1:
        compile_chunk(out, pairs, 0, 1)
        return
    python = json.loads(os.environ.get("PYPACK_PYTHON") or "null") or [sys.executable]
    workers = [
        subprocess.Popen(
            [*python, "-s", __file__, "--chunk", str(c), str(chunks), out, *pairs]
        )
        for c in range(chunks)
    ]
    failed = [w.args for w in workers if w.wait() != 0]
    if failed:
        sys.exit("compile workers failed: %r" % failed)


main()
