#!/usr/bin/env python
import os
import sys


def main():
    # The hosting platform sets WEBSITE_HOSTNAME; elsewhere, the plain settings.
    settings_module = "bookshelf.production" if "WEBSITE_HOSTNAME" in os.environ else "bookshelf.settings"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
