"""A seed-style Flask app: templates, and the development server started by
the module itself (no WSGI server in the dependencies)."""

from flask import Flask, render_template

app = Flask(__name__)

GREETINGS = ["Hello", "Bonjour", "Hola", "Hallo"]


@app.route("/")
def index():
    return render_template("index.html", greetings=GREETINGS)


if __name__ == "__main__":
    app.run(host='0.0.0.0', port=5000)
