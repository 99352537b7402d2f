from aiohttp import web

from status import make_app

web.run_app(make_app())
