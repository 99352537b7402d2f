import os

from .settings import *  # noqa: F401,F403

ALLOWED_HOSTS = [os.environ["WEBSITE_HOSTNAME"]]
SECRET_KEY = os.environ["SECRET_KEY"]
