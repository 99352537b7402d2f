"""A Flask app in a module no convention names: only the Dockerfile says how it starts."""

from flask import Flask

web = Flask(__name__)


@web.get("/")
def index():
    return "portal started the way its Dockerfile says\n"
