from django.http import JsonResponse
from django.shortcuts import render

from .models import Note


def index(request):
    return render(request, "notes/index.html", {"notes": Note.objects.order_by("id")})


def healthz(request):
    return JsonResponse({"status": "ok", "notes": Note.objects.count()})
