"""The API: a fixed list of tasks and a count by state."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="tasks-api")


class Task(BaseModel):
    id: int
    title: str
    done: bool


TASKS = [
    Task(id=1, title="write the API", done=True),
    Task(id=2, title="pack it with pypack", done=True),
    Task(id=3, title="ship it", done=False),
]


@app.get("/")
def summary():
    return {"tasks": len(TASKS), "done": sum(t.done for t in TASKS)}


@app.get("/tasks/{task_id}")
def task(task_id: int) -> Task:
    return next(t for t in TASKS if t.id == task_id)
