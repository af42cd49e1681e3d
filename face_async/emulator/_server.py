"""The emulator's aiohttp application and the in-process server around it."""

from __future__ import annotations

import secrets
from types import TracebackType
from typing import Any

from aiohttp import web

from ._app import add_routes
from ._clock import Clock
from ._config import EmulatorConfig, apply_json
from ._knobs import Knobs
from ._state import EmulatorState
from ._stats import EmulatorStats

__all__ = [
    "CLOCK_KEY",
    "CONFIG_KEY",
    "KNOBS_KEY",
    "STATE_KEY",
    "STATS_KEY",
    "Emulator",
    "create_app",
    "make_state",
]

CONFIG_KEY = web.AppKey("face_emulator_config", EmulatorConfig)
STATS_KEY = web.AppKey("face_emulator_stats", EmulatorStats)
KNOBS_KEY = web.AppKey("face_emulator_knobs", Knobs)
CLOCK_KEY = web.AppKey("face_emulator_clock", Clock)
STATE_KEY = web.AppKey("face_emulator_state", EmulatorState)

# Image uploads go up to 6 MB; a larger body must reach the routes so they can answer the
# documented 400 InvalidImageSize rather than aiohttp's bare 413.
_CLIENT_MAX_SIZE = 16 * 1024 * 1024


def make_state(clock: Clock) -> EmulatorState:
    """A fresh, empty EmulatorState on `clock`."""
    return EmulatorState(clock=clock)


def create_app(
    *,
    key: str,
    config: EmulatorConfig | None = None,
    stats: EmulatorStats | None = None,
    clock: Clock | None = None,
    state: EmulatorState | None = None,
) -> web.Application:
    """The emulator as an aiohttp Application: the Face API v1.0 routes behind the knobs.

    Only `key` is accepted in Ocp-Apim-Subscription-Key. Besides the API under /face/v1.0 it
    serves GET /_emulator/stats, POST /_emulator/reset and GET/POST /_emulator/config.
    """
    config = EmulatorConfig() if config is None else config
    stats = EmulatorStats() if stats is None else stats
    clock = Clock() if clock is None else clock
    state = make_state(clock) if state is None else state
    knobs = Knobs(key=key, config=config, stats=stats)
    app = web.Application(middlewares=[knobs.middleware], client_max_size=_CLIENT_MAX_SIZE)
    app[CONFIG_KEY] = config
    app[STATS_KEY] = stats
    app[KNOBS_KEY] = knobs
    app[CLOCK_KEY] = clock
    app[STATE_KEY] = state
    app.router.add_get("/_emulator/stats", _get_stats, name="_emulator_stats")
    app.router.add_post("/_emulator/reset", _post_reset, name="_emulator_reset")
    app.router.add_get("/_emulator/config", _get_config, name="_emulator_config")
    app.router.add_post("/_emulator/config", _post_config, name="_emulator_set_config")
    add_routes(app, state=state, limits=config.limits, clock=clock)  # its catch-all goes last
    return app


async def _get_stats(request: web.Request) -> web.Response:
    app = request.app
    body = app[STATS_KEY].as_json()
    body["faults_fired"] = app[KNOBS_KEY].snapshot()["faults_fired"]
    body["state"] = app[STATE_KEY].summary()
    return web.json_response(body)


async def _post_reset(request: web.Request) -> web.Response:
    app = request.app
    app[STATE_KEY].reset()
    app[STATS_KEY].reset()
    app[KNOBS_KEY].reset()
    return web.json_response({"reset": True})


async def _get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[CONFIG_KEY].to_json())


async def _post_config(request: web.Request) -> web.Response:
    config = request.app[CONFIG_KEY]
    try:
        apply_json(config, await request.json())
    except (ValueError, TypeError) as exc:
        return web.json_response(
            {"error": {"code": "BadArgument", "message": f"Invalid emulator config: {exc}"}},
            status=400,
        )
    return web.json_response(config.to_json())


class Emulator:
    """The emulator served on a real loopback socket for the duration of an `async with`.

    `url` is "http://HOST:PORT" (the API is under /face/v1.0); only `key` is accepted (a random
    one when not given). The fields of `config` may be changed while it runs; `config`, `stats`,
    `state` and `clock` are the live objects the routes use, so they cannot be replaced.
    """

    def __init__(
        self,
        key: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        seed: int | None = None,
        shutdown_timeout: float = 0.5,
        access_log: bool = False,
    ) -> None:
        self.key = secrets.token_hex(16) if key is None else key
        if not self.key:
            raise ValueError("the emulator key must not be empty")
        self.host = host
        self._config = EmulatorConfig() if config is None else config
        if seed is not None:
            self._config.seed = seed
        self._stats = EmulatorStats()
        self._clock = Clock()
        self._state = make_state(self._clock)
        self.app = create_app(
            key=self.key,
            config=self._config,
            stats=self._stats,
            clock=self._clock,
            state=self._state,
        )
        self._requested_port = port
        self._port: int | None = None
        self._shutdown_timeout = shutdown_timeout
        self._access_log = access_log
        self._runner: web.AppRunner | None = None

    @property
    def config(self) -> EmulatorConfig:
        return self._config

    @property
    def stats(self) -> EmulatorStats:
        return self._stats

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def state(self) -> EmulatorState:
        return self._state

    @property
    def knobs(self) -> Knobs:
        return self.app[KNOBS_KEY]

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def url(self) -> str:
        """The base URL, "http://HOST:PORT"; raises RuntimeError before start()."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving; raises OSError when the address cannot be bound."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        kwargs: dict[str, Any] = {} if self._access_log else {"access_log": None}
        runner = web.AppRunner(
            self.app, handle_signals=False, shutdown_timeout=self._shutdown_timeout, **kwargs
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop serving; running requests get `shutdown_timeout` seconds, then are cancelled."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            await self.knobs.cancel_running()

    def reset(self) -> None:
        """Clear the state, the counters, fault hit counts and token buckets (not the config)."""
        self.state.reset()
        self.stats.reset()
        self.knobs.reset()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
