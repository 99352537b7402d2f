from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def index(request):
    return JSONResponse({"notes": 2, "served_by": "starlette"})


app = Starlette(routes=[Route("/", index)])
