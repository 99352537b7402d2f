"""pypack's build step for Django: `collectstatic` into the image, run by the
image's own interpreter with the app and its venv, no network. The files land
in STATIC_ROOT inside this throwaway container and are copied to the output
directory, with STATIC_ROOT's path beside them, for pypack to make a layer."""

import os
import shutil
import sys

settings_module, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

root = getattr(settings, "STATIC_ROOT", None)
if not root:
    with open(os.path.join(out, "static_root"), "w") as f:
        f.write("")
    sys.exit(0)
root = os.path.abspath(str(root))
call_command("collectstatic", interactive=False, verbosity=0)
shutil.copytree(root, os.path.join(out, "files"), symlinks=True, dirs_exist_ok=True)
with open(os.path.join(out, "static_root"), "w") as f:
    f.write(root)
