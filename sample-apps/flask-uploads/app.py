from pathlib import Path

from flask import Flask

# Created beside the code when the module is imported, as many apps do.
UPLOADS = Path(__file__).parent / "uploads"
UPLOADS.mkdir(exist_ok=True)
(UPLOADS / "started.txt").write_text("ready\n")

app = Flask(__name__)


@app.route("/")
def index():
    names = sorted(p.name for p in UPLOADS.iterdir())
    return "uploads: " + ", ".join(names)
