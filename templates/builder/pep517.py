"""pypack: build one source distribution into a wheel (PEP 517).

Run by pypack inside the builder container as:
    python pep517.py SDIST BACKEND BACKEND_PATH_JSON OUT
The build requirements are already installed on PYTHONPATH by pypack (which
resolved them for this very interpreter). The sdist is unpacked under /tmp,
the backend's extra requirements for a wheel are asked for first: if one is
not installed, they are written to OUT/requires.json and the script exits
with status 3 so pypack can add them (those whose markers hold) and run it
again. Otherwise the wheel
is built into OUT and its file name printed on the last line.
"""

import importlib
import importlib.metadata
import json
import os
import re
import sys
import tarfile
import zipfile

NEEDS_MORE = 3


def unpack(sdist, into):
    if sdist.endswith(".zip"):
        with zipfile.ZipFile(sdist) as archive:
            archive.extractall(into)
    else:
        with tarfile.open(sdist) as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(into, filter="data")
            else:
                archive.extractall(into)
    entries = os.listdir(into)
    if len(entries) != 1 or not os.path.isdir(os.path.join(into, entries[0])):
        sys.exit("%s does not hold exactly one top directory" % os.path.basename(sdist))
    return os.path.join(into, entries[0])


def load_backend(spec, backend_path):
    for path in reversed(backend_path):
        sys.path.insert(0, os.path.abspath(path))
    module_name, _, attrs = spec.partition(":")
    backend = importlib.import_module(module_name)
    for attr in filter(None, attrs.split(".")):
        backend = getattr(backend, attr)
    return backend


def missing(requirements):
    # pypack evaluated the markers of what was asked before: those that
    # exclude this interpreter (an extra's, another Python's) are not waited for.
    not_for_target = set(json.loads(os.environ.get("PYPACK_NOT_FOR_TARGET", "[]")))
    gone = []
    for requirement in requirements:
        if requirement in not_for_target:
            continue
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        try:
            importlib.metadata.version(name.group(1) if name else requirement)
        except importlib.metadata.PackageNotFoundError:
            gone.append(requirement)
    return gone


def main():
    sdist, spec, backend_path, out = sys.argv[1:5]
    source = unpack(sdist, "/tmp/pypack-src")
    os.chdir(source)
    backend = load_backend(spec, json.loads(backend_path))
    hook = getattr(backend, "get_requires_for_build_wheel", None)
    requires = list(hook({}) if hook else [])
    needed = missing(requires)
    if needed:
        with open(os.path.join(out, "requires.json"), "w") as f:
            json.dump(needed, f)
        sys.exit(NEEDS_MORE)
    wheel = backend.build_wheel(out, {})
    print(wheel)


main()
