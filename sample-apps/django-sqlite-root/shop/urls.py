from django.contrib.auth.models import User
from django.http import HttpResponse
from django.urls import path


def index(request):
    return HttpResponse(f"shop customers: {User.objects.count()}")


urlpatterns = [path("", index)]
