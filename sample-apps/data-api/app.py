"""A small data API: numpy, pandas and scipy behind Flask, served by gunicorn.

GET /        a least-squares fit and summary statistics of a fixed dataset
GET /fit?x=1,2,3&y=3,5,7   the fit of the points given
"""

import numpy as np
import pandas as pd
from flask import Flask, jsonify, request
from scipy import stats

app = Flask(__name__)

# Monthly sales of a made-up shop: a linear trend, no noise, so the answer is exact.
MONTHS = np.arange(1, 13)
SALES = pd.DataFrame({"month": MONTHS, "sales": 250.0 + 12.5 * MONTHS})


def fit(x, y):
    result = stats.linregress(x, y)
    return {
        "slope": round(float(result.slope), 6),
        "intercept": round(float(result.intercept), 6),
        "r": round(float(result.rvalue), 6),
    }


@app.get("/")
def summary():
    described = SALES["sales"].describe()
    return jsonify(
        fit=fit(SALES["month"], SALES["sales"]),
        mean=float(described["mean"]),
        median=float(np.median(SALES["sales"])),
        numpy=np.__version__,
        pandas=pd.__version__,
    )


@app.get("/fit")
def fit_points():
    try:
        x = [float(v) for v in request.args["x"].split(",")]
        y = [float(v) for v in request.args["y"].split(",")]
    except (KeyError, ValueError):
        return jsonify(error="pass x=1,2,3&y=2,4,6"), 400
    if len(x) != len(y) or len(x) < 2:
        return jsonify(error="x and y need the same length, at least 2"), 400
    return jsonify(fit=fit(x, y))


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
