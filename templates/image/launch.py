"""pypack's launcher: runs a command chain (what a Procfile line such as
`python manage.py migrate && gunicorn site.wsgi` asks of a shell) in an
image that has no shell.

Its one argument is a JSON list of steps (or the path of a process
type's program: a `#!` line naming this launcher, then that list; the
arguments after it go after the last step's own), each
  {"argv": [...], "env": {...}, "cd": "dir", "export": {...}, "after": "&&" | ";" | "||"}
where "after" says when the step runs given the previous step's status
(`&&`: only if it succeeded, `||`: only if it failed, `;`: always). The
POSIX parameter forms `$NAME`, `${NAME}`, `${NAME:-w}`, `${NAME-w}`,
`${NAME:+w}`, `${NAME+w}`, `${NAME:=w}` and `${NAME=w}` in arguments are
expanded from the environment when the step runs (`w` in turn); an
argument made only of expansions that comes out empty is dropped, as a
shell drops an unquoted one. The last step that runs replaces this
process, so the server gets the container's signals; a step that fails
under `&&` ends the chain with its status.
"""

import json
import os
import re
import subprocess
import sys

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def closing(text):
    """Where the } closing a ${ is, nested ones passed over (-1: none)."""
    depth = 0
    for i, c in enumerate(text):
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
    return -1


def parameter(inner, env):
    match = NAME.match(inner)
    if not match:
        return "${" + inner + "}"
    name, op = match.group(0), inner[match.end():]
    current = env.get(name)
    colon = op.startswith(":")
    if colon:
        op = op[1:]
    is_set = current is not None and not (colon and current == "")
    if op == "" and not colon:
        return current or ""
    kind, word = op[:1], op[1:]
    if kind in "-=" and kind:
        if is_set:
            return current
        value = expand(word, env)
        if kind == "=":
            env[name] = value
        return value
    if kind == "+":
        return expand(word, env) if is_set else ""
    return "${" + inner + "}"


def expand(text, env):
    out = []
    i = 0
    while True:
        at = text.find("$", i)
        if at < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:at])
        if text.startswith("{", at + 1):
            end = closing(text[at + 2:])
            if end < 0:
                out.append(text[at:])
                return "".join(out)
            out.append(parameter(text[at + 2:at + 2 + end], env))
            i = at + 2 + end + 1
        else:
            match = NAME.match(text, at + 1)
            if not match:
                out.append("$")
                i = at + 1
                continue
            out.append(env.get(match.group(0), ""))
            i = match.end()


def only_expansions(text):
    """Whether the text is nothing but $NAME / ${...} expansions."""
    rest = text
    while rest:
        if rest.startswith("${"):
            end = closing(rest[2:])
            if end < 0:
                return False
            rest = rest[2 + end + 1:]
        elif rest.startswith("$"):
            match = NAME.match(rest, 1)
            if not match:
                return False
            rest = rest[match.end():]
        else:
            return False
    return True


def arguments(argv, env):
    """argv expanded; an argument of expansions alone that comes out empty is dropped."""
    out = []
    for arg in argv:
        value = expand(arg, env)
        if value == "" and arg and only_expansions(arg):
            continue
        out.append(value)
    return out


def process_steps(program, extra, env):
    """The steps of a process type's program, `extra` after the last
    step's arguments (as given: not expanded); its directory comes off
    PATH, so that a process named after the program it runs runs that
    program, not itself."""
    with open(program) as text:
        text.readline()
        steps = json.loads(text.read())
    if extra and steps and steps[-1].get("argv"):
        steps[-1]["extra"] = extra
    own = os.path.dirname(program)
    path = [p for p in env.get("PATH", "").split(":") if p and os.path.normpath(p) != own]
    env["PATH"] = ":".join(path)
    return steps


def main():
    env = dict(os.environ)
    if sys.argv[1].startswith("/"):
        steps = process_steps(sys.argv[1], sys.argv[2:], env)
    else:
        steps = json.loads(sys.argv[1])
    status = 0
    for index, step in enumerate(steps):
        after = step.get("after", ";")
        if (after == "&&" and status != 0) or (after == "||" and status == 0):
            continue
        for name, value in step.get("export", {}).items():
            env[name] = expand(value, env)
        if "cd" in step:
            os.chdir(expand(step["cd"], env))
        if not step.get("argv"):
            status = 0
            continue
        step_env = dict(env)
        for name, value in step.get("env", {}).items():
            step_env[name] = expand(value, env)
        argv = arguments(step["argv"], env) + step.get("extra", [])
        later = steps[index + 1:]
        last = not later
        sys.stdout.flush()
        sys.stderr.flush()
        if last:
            try:
                os.execvpe(argv[0], argv, step_env)
            except OSError as error:
                print(f"pypack-launch: cannot run {argv[0]}: {error}", file=sys.stderr)
                sys.exit(127)
        print(f"pypack-launch: {' '.join(argv)}", file=sys.stderr, flush=True)
        try:
            status = subprocess.call(argv, env=step_env)
        except OSError as error:
            print(f"pypack-launch: cannot run {argv[0]}: {error}", file=sys.stderr)
            status = 127
        if status != 0 and all(s.get("after", ";") == "&&" for s in later):
            print(f"pypack-launch: `{' '.join(argv)}` failed with status {status}; stopping", file=sys.stderr)
            sys.exit(status)
    sys.exit(status)


if __name__ == "__main__":
    main()
