"""A small FastAPI service: served by uvicorn, found by pypack from main:app."""

from fastapi import FastAPI

app = FastAPI(title="pypack sample")


@app.get("/")
def root():
    return {"message": "Hello from FastAPI in a pypack image"}


@app.get("/items/{item_id}")
def item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}
