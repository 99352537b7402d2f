"""A Flask app whose port only its gunicorn config file names."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "served on the port gunicorn.conf.py names\n"
