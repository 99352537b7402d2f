"""A JSON API whose dependencies Poetry declares and locks."""

from importlib.metadata import version

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(service="poetry-api", flask=version("flask"))
