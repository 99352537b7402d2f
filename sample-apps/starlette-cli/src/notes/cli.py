"""An admin command: prints what it can do and exits."""


def main():
    print("notes-admin: commands are import, export")
