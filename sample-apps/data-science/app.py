"""A data-science service: the whole usual stack behind one Flask app.

GET /          a model fitted at start, with the versions of each library
GET /plot.png  a chart of the data, drawn by matplotlib without a display
"""

import io

import matplotlib

matplotlib.use("Agg")  # no display in a container

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import scipy
import sklearn
from flask import Flask, Response, jsonify
from sklearn.linear_model import LinearRegression

app = Flask(__name__)

# Weekly visits of a made-up site: an exact linear trend, so the fit is exact.
WEEKS = np.arange(1, 27, dtype=float)
VISITS = 1200.0 + 35.0 * WEEKS
FRAME = pd.DataFrame({"week": WEEKS, "visits": VISITS})
MODEL = LinearRegression().fit(FRAME[["week"]], FRAME["visits"])


@app.get("/")
def summary():
    table = pa.Table.from_pandas(FRAME)
    busiest = pl.from_arrow(table).sort("visits", descending=True).row(0, named=True)
    return jsonify(
        slope=round(float(MODEL.coef_[0]), 6),
        intercept=round(float(MODEL.intercept_), 6),
        busiest_week=int(busiest["week"]),
        versions={
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "matplotlib": matplotlib.__version__,
            "pyarrow": pa.__version__,
            "polars": pl.__version__,
        },
    )


@app.get("/plot.png")
def plot():
    figure, axes = plt.subplots(figsize=(4, 3))
    axes.plot(WEEKS, VISITS)
    axes.set_xlabel("week")
    axes.set_ylabel("visits")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return Response(out.getvalue(), mimetype="image/png")
