"""A guestbook made by an app factory, keeping its visit count in an SQLite
file in Flask's instance folder (written to by the app at run time)."""

import os
import sqlite3

from flask import Flask


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DATABASE=os.path.join(app.instance_path, "guestbook.sqlite"))
    if test_config is not None:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    def connect():
        db = sqlite3.connect(app.config["DATABASE"])
        db.execute("CREATE TABLE IF NOT EXISTS visits (n INTEGER)")
        return db

    @app.get("/")
    def index():
        with connect() as db:
            db.execute("INSERT INTO visits VALUES (1)")
            (count,) = db.execute("SELECT COUNT(*) FROM visits").fetchone()
        return f"guestbook visits: {count}\n"

    return app
