"""pypack's launcher: runs a command chain (what a Procfile line such as
`python manage.py migrate && gunicorn site.wsgi` asks of a shell) in an
image that has no shell.

Its one argument is a JSON list of steps, each
  {"argv": [...], "env": {...}, "cd": "dir", "export": {...}, "after": "&&" | ";" | "||"}
where "after" says when the step runs given the previous step's status
(`&&`: only if it succeeded, `||`: only if it failed, `;`: always). `$NAME`,
`${NAME}` and `${NAME:-default}` in arguments are expanded from the
environment when the step runs. The last step that runs replaces this
process, so the server gets the container's signals; a step that fails
under `&&` ends the chain with its status.
"""

import json
import os
import re
import subprocess
import sys

VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand(text, env):
    def value(match):
        name = match.group(1) or match.group(3)
        found = env.get(name, "")
        if match.group(1) and found == "" and match.group(2) is not None:
            return match.group(2)
        return found

    return VARIABLE.sub(value, text)


def main():
    steps = json.loads(sys.argv[1])
    env = dict(os.environ)
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
        argv = [expand(arg, env) for arg in step["argv"]]
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
