"""Section: what one websocket message costs through the plugin, against a bare aiohttp websocket.

The bare side is an ``aiohttp.web`` websocket server on loopback, in the same process: real
frames over a real local TCP connection, no plugin. The same aiohttp client code runs on both
sides (``ws_connect``, ``send_str``, ``receive``):

- ``round trip``: the bot sends Bybit's ``{"op": "ping"}`` and reads the answer. Plugin: the
  in-process socket, the stream hub's records, the Bybit gateway's pong. Bare: the server echoes
  the text back.
- ``published``: a message the venue pushes. Plugin: ``set_price`` moves the mark, the hub asks
  the Bybit streams what changed, and they publish a ``tickers`` snapshot built from the book to
  the subscribed socket. Bare: the server sends the same snapshot text, prepared once, for each
  ``"next"`` the client sends (so the bare side pays a round trip per message, and the plugin
  side only the push).

Each side's time is divided by its message count; the ratio is plugin over bare, per round.
The published message costs the plugin more than the bare server's prepared text: it is built
from the book (the mark, the day's high, low and volume, the best bid and ask), as every
message a venue publishes is; its target only guards against that cost growing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from harness import Result, Section, chaos_session, interleave, median, paired_ratio, perf_counter

__all__ = ["run"]

PUBLIC = "wss://stream.bybit.com/v5/public/linear"
BTC = "BTC/USDT:USDT"
PING = json.dumps({"req_id": "1", "op": "ping"})
WARMUP = 20
# Round trip: the in-process socket against loopback TCP. Published: see the module docstring.
TARGETS = {"round trip": 1.5, "published": 4.0}


async def _round_trips(ws: Any, n: int) -> float:
    for _ in range(WARMUP):
        await ws.send_str(PING)
        await ws.receive()
    start = perf_counter()
    for _ in range(n):
        await ws.send_str(PING)
        message = await ws.receive()
        assert message.type == aiohttp.WSMsgType.TEXT, message
    return (perf_counter() - start) / n


# -- the plugin's side ---------------------------------------------------------------------------


def _plugin_round_trip(n: int) -> float:
    async def go() -> float:
        async with aiohttp.ClientSession() as session, session.ws_connect(PUBLIC) as ws:
            return await _round_trips(ws, n)

    with chaos_session():
        return asyncio.run(go())


def _plugin_published(n: int) -> tuple[float, str]:
    """Seconds per ticker pushed after a price move, and one such message (for the bare side)."""
    with chaos_session() as chaos:
        venue = chaos.venue("bybit")

        async def go() -> tuple[float, str]:
            async with aiohttp.ClientSession() as session, session.ws_connect(PUBLIC) as ws:
                await ws.send_str(json.dumps({"req_id": "2", "op": "subscribe", "args": ["tickers.BTCUSDT"]}))
                await ws.receive()  # the ack
                await ws.receive()  # the first snapshot
                for step in range(WARMUP):
                    venue.set_price(BTC, 60_001 + step)  # every move a change: each publishes
                    await ws.receive()
                start = perf_counter()
                last = ""
                for step in range(n):
                    venue.set_price(BTC, 61_000 + step % 500)
                    message = await ws.receive()
                    last = message.data
                return (perf_counter() - start) / n, last

        return asyncio.run(go())


# -- the bare side -------------------------------------------------------------------------------


async def _echo_server(ticker: str) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            await ws.send_str(ticker if message.data == "next" else message.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"ws://127.0.0.1:{port}/ws"


def _bare_round_trip(n: int) -> float:
    async def go() -> float:
        runner, url = await _echo_server("")
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                return await _round_trips(ws, n)
        finally:
            await runner.cleanup()

    return asyncio.run(go())


def _bare_published(n: int, ticker: str) -> float:
    async def go() -> float:
        runner, url = await _echo_server(ticker)
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                for _ in range(WARMUP):
                    await ws.send_str("next")
                    await ws.receive()
                start = perf_counter()
                for _ in range(n):
                    await ws.send_str("next")
                    message = await ws.receive()
                    assert message.data == ticker
                return (perf_counter() - start) / n
        finally:
            await runner.cleanup()

    return asyncio.run(go())


# -- the section ---------------------------------------------------------------------------------


def run(*, n: int, rounds: int, progress: Callable[[str], None]) -> Section:
    section = Section("Websocket: one message through the plugin vs a bare aiohttp websocket on loopback")
    _, ticker = _plugin_published(5)
    sides: list[tuple[str, Callable[[], float]]] = [
        ("plugin round trip", lambda: _plugin_round_trip(n)),
        ("bare round trip", lambda: _bare_round_trip(n)),
        ("plugin published", lambda: _plugin_published(n)[0]),
        ("bare published", lambda: _bare_published(n, ticker)),
    ]
    samples = interleave(sides, rounds, progress=progress)
    for what in ("round trip", "published"):
        plugin, bare = samples[f"plugin {what}"], samples[f"bare {what}"]
        ratio = paired_ratio(plugin, bare)
        section.add(
            Result(
                f"ws {what}: plugin / bare aiohttp",
                ratio,
                "x",
                target=f"<= {TARGETS[what]}",
                met=ratio <= TARGETS[what],
                detail=f"{median(plugin) * 1e6:.1f} µs vs {median(bare) * 1e6:.1f} µs a message ({n} each)",
            )
        )
    return section


if __name__ == "__main__":
    import sys

    for result in run(n=300, rounds=3, progress=lambda step: print(f"  {step}", file=sys.stderr)).results:
        print(f"{result.name}: {result.formatted_value()} ({result.detail})")
