from django.http import HttpResponse
from django.urls import path


def index(request):
    return HttpResponse("bookshelf: 3 books on the shelf")


urlpatterns = [path("", index)]
