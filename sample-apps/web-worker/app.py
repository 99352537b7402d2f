"""The web side of a web + worker app: shows how many jobs the queue has.

The worker (worker.py) runs from the same image as another process type:
`podman run IMAGE worker`.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "web process: jobs are handled by the worker process\n"
