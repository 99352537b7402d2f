from quart import Quart

app = Quart(__name__)

NOTES = ["buy milk", "write tests"]


@app.route("/")
async def index():
    return {"notes": NOTES, "served_by": "quart"}
