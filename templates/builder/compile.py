"""pypack: compile .py files to .pyc with the image's own interpreter.

Run by pypack (in a container, or on the host through the image's own
loader and libraries) as:
    python -s -S compile.py OUT_DIR [--sources FILE] [--stdlib[=ROOT]]
FILE holds the sources as records (see below), each named by the path it
will have in the image: that path is what tracebacks will show. "--stdlib"
compiles the interpreter's own standard library where it is (its
site-packages left out, and files that already have a .pyc left alone);
"--stdlib=ROOT" does so for an interpreter whose image is unpacked at ROOT.
The .pyc files are written into OUT_DIR as records, in files named 0, 1, ...
to be read in that order, each .pyc named by its image path (the
__pycache__ path beside its source). Sources that do not compile (Python 2
leftovers, templates named .py) are skipped, as pip does. Records rather
than a tree of files: creating and deleting a thousand small files costs
more than compiling them on some filesystems.

A record is the path, a newline, the length in bytes (decimal), a newline,
then the bytes.

Reproducible: the "unchecked-hash" mode records no timestamp, and the files
are split into a number of chunks that depends only on how many there are
(one for a small set, else four), each compiled in the order of the image
paths by its own process forked from this one once the file list is made, so
a file's bytes never depend on the machine's core count or on what another
process compiled first (marshal's output depends on which strings are alive
and interned, so every chunk starts from the same state, and a file's bytes
may depend on the files before it in its chunk: the same list gives the same
bytes). Forking rather than starting an interpreter per
chunk matters: with no bytecode yet for the standard library, each start
compiles this script's imports again. PYTHONHASHSEED must be fixed by the
caller (set and frozenset constants are ordered by hash).
"""

import _imp
import os
import sys

# The import system's own module, frozen into the interpreter: importing
# importlib.util instead would compile a dozen modules from source at every
# start (the base has no bytecode yet).
import _frozen_importlib_external as bootstrap

cache_from_source = bootstrap.cache_from_source
# The key importlib.util.source_hash gives _imp.source_hash: its own
# attribute since 3.14, before that the import system's.
MAGIC_TOKEN = getattr(_imp, "pyc_magic_number_token", None)
if MAGIC_TOKEN is None:
    MAGIC_TOKEN = bootstrap._RAW_MAGIC_NUMBER

CHUNKS = 4
SMALL = 100


SKIPPED_IN_PLACE = {"__pycache__", "site-packages", "dist-packages"}


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    records, at = [], 0
    while at < len(data):
        name_end = data.index(b"\n", at)
        size_end = data.index(b"\n", name_end + 1)
        size = int(data[name_end + 1 : size_end])
        start = size_end + 1
        if start + size > len(data):
            sys.exit("%s: a record runs past the end" % path)
        records.append((data[at:name_end].decode(), data[start : start + size]))
        at = start + size
    return records


def stdlib_sources(root):
    """(image path, local path) of the standard library's uncompiled files."""
    # Where os.py is: the standard library (sysconfig's "stdlib" path,
    # without importing sysconfig).
    local_dir = os.path.dirname(os.__file__)
    image_dir = local_dir if root is None else "/" + os.path.relpath(local_dir, root)
    found = []
    for where, dirs, files in os.walk(local_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_IN_PLACE)
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            local = os.path.join(where, name)
            if os.path.exists(cache_from_source(local)):
                continue
            found.append((os.path.join(image_dir, os.path.relpath(local, local_dir)), local))
    return found


def compiled(image_path, source):
    """The .pyc bytes of one source, or None when it does not compile.

    What py_compile.compile writes in "unchecked-hash" mode, without files."""
    try:
        code = compile(source, image_path, "exec", dont_inherit=True)
    except Exception:
        return None
    # importlib.util.source_hash, as py_compile uses it.
    source_hash = _imp.source_hash(MAGIC_TOKEN, source)
    return bootstrap._code_to_hash_pyc(code, source_hash, False)


def compile_chunk(out_file, files, chunk, chunks):
    records = []
    for number, (image_path, source) in enumerate(files):
        if number % chunks != chunk:
            continue
        if not isinstance(source, bytes):
            with open(source, "rb") as f:
                source = f.read()
        pyc = compiled(image_path, source)
        if pyc is not None:
            name = cache_from_source(image_path).encode()
            records.append(b"%s\n%d\n%s" % (name, len(pyc), pyc))
    with open(out_file, "wb") as f:
        f.write(b"".join(records))


def arguments(argv):
    out, sources, stdlib = argv[0], None, False
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "--sources":
            sources = next(rest)
        elif arg == "--stdlib":
            stdlib = None
        elif arg.startswith("--stdlib="):
            stdlib = arg.split("=", 1)[1]
        else:
            sys.exit("compile.py: unknown argument %r" % arg)
    return out, sources, stdlib


def main():
    out, sources, stdlib = arguments(sys.argv[1:])
    files = []
    if stdlib is not False:
        files += stdlib_sources(stdlib)
    if sources is not None:
        files += read_records(sources)
    # One order however the files came (found in place or handed over as
    # records): another platform's standard library, handed over, then
    # compiles to the same bytes wherever its sources are the same.
    files.sort(key=lambda f: f[0])
    # A few files (an app) are not worth the processes; how many chunks is
    # decided by the file count alone, so it is the same on every machine.
    chunks = 1 if len(files) < SMALL else CHUNKS
    if chunks == 1:
        compile_chunk(os.path.join(out, "0"), files, 0, 1)
        return
    workers = []
    for chunk in range(chunks):
        pid = os.fork()
        if pid == 0:
            try:
                compile_chunk(os.path.join(out, str(chunk)), files, chunk, chunks)
            except BaseException:
                import traceback

                traceback.print_exc()
                sys.stderr.flush()
                os._exit(1)
            os._exit(0)
        workers.append(pid)
    failed = [pid for pid in workers if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    if failed:
        sys.exit("%d of %d compile workers failed" % (len(failed), chunks))


main()
