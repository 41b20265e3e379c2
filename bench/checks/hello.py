"""The hello-world baseline: the same FastAPI + uvicorn set-up, no database."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, bool]:
    return {"ok": True}
