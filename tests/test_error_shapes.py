"""Failures nobody planned for still answer in the one error shape: a lost database
connection is 503 with Retry-After, anything else a JSON 500 (and is logged)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from api.app import create_app
from knowledge.infra.settings import Settings


@pytest.fixture
def app_client() -> httpx.AsyncClient:
    app = create_app(Settings(env="test", data_dir=Path("/tmp"), run_worker=False))

    @app.get("/boom/lost")
    async def lost() -> None:
        orig = asyncpg.InternalClientError("cannot switch to state 12; another operation")
        raise DBAPIError("SELECT 1", {}, orig)

    @app.get("/boom/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_connection_cut_mid_statement_is_503(app_client: httpx.AsyncClient) -> None:
    async with app_client as client:
        response = await client.get("/boom/lost")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"


async def test_an_unexpected_error_is_a_json_500(app_client: httpx.AsyncClient) -> None:
    async with app_client as client:
        response = await client.get("/boom/bug")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "a bug" not in response.text  # details stay in the log


async def test_no_free_database_connection_is_503() -> None:
    """Was: a full connection pool under load answered a plain-text 500."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    app = create_app(Settings(env="test", data_dir=Path("/tmp"), run_worker=False))

    @app.get("/boom/busy")
    async def busy() -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom/busy")
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "service_unavailable"
