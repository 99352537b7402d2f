"""The smallest Flask app worth packaging: one page, served by gunicorn."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello from pypack!\n"


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
