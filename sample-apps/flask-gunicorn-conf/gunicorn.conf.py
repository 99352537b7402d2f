# gunicorn reads this file from the working directory by itself.
import os

bind = "0.0.0.0:" + os.environ.get("PORT", "5050")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
