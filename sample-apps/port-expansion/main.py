from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def index(request):
    return PlainTextResponse("port from the environment, as the shell would give it")


app = Starlette(routes=[Route("/", index)])
