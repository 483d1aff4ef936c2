"""A stopping API refuses what arrives, in each client family's error format."""

from __future__ import annotations

import httpx

from vimwatch.api.app import create_app


async def test_once_stopping_every_new_request_gets_503_and_a_closed_connection() -> None:
    app = create_app(lifespan=None)
    stopped: list[bool] = []
    app.state.drain.on_stop(lambda: stopped.append(True))
    app.state.drain.stop()
    assert stopped == [True]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vimwatch") as client:
        tacker = await client.post("/v1.0/vims", json={"vim": {}})
        mistral = await client.get("/v2/workflows")
    assert tacker.status_code == mistral.status_code == 503
    assert "shutting down" in tacker.json()["TackerError"]["message"]
    assert "shutting down" in mistral.json()["faultstring"]
    assert tacker.headers["connection"] == "close"
    assert await app.state.drain.idle(timeout=1)
