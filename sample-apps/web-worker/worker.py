"""A background worker: handles jobs until stopped (`--once`: one round).

Jobs here are simulated; a real worker would take them from Celery, RQ or
a database table.
"""

import sys
import time


def handle_round(number):
    print(f"worker: round {number} handled", flush=True)


def main(argv):
    once = "--once" in argv
    print(f"worker: started (args: {' '.join(argv) or 'none'})", flush=True)
    number = 1
    while True:
        handle_round(number)
        if once:
            return
        number += 1
        time.sleep(5)


if __name__ == "__main__":
    main(sys.argv[1:])
