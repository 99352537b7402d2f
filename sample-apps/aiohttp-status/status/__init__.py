from aiohttp import web


async def index(request):
    return web.json_response({"status": "green", "served_by": "aiohttp"})


def make_app():
    app = web.Application()
    app.router.add_get("/", index)
    return app
