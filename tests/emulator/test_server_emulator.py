"""The in-process Emulator: binding, authentication, and the /_emulator/* endpoints."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from face_async.emulator import Emulator, EmulatorConfig, Fault, Latency, RateLimit

KEY = "test-key"
ACCESS_DENIED = {
    "error": {
        "code": "Unspecified",
        "message": "Access denied due to invalid subscription key. Make sure you are subscribed "
        "to an API you are trying to call and provide the right key.",
    }
}


def auth(key: str = KEY) -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": key}


async def test_serves_on_loopback_with_a_bound_port() -> None:
    async with Emulator(key=KEY) as emu, aiohttp.ClientSession() as session:
        assert emu.url == f"http://127.0.0.1:{emu.port}"
        assert emu.port > 0
        async with session.get(f"{emu.url}/face/v1.0/persongroups", headers=auth()) as resp:
            assert resp.status == 200
            assert await resp.json() == []
            assert resp.headers["apim-request-id"]
        assert emu.stats.requests == {"PersonGroup_List": 1}
        assert emu.stats.responses == {200: 1}


async def test_two_emulators_get_distinct_ports_and_keys() -> None:
    async with Emulator() as first, Emulator() as second:
        assert first.port != second.port
        assert first.key != second.key
        assert len(first.key) >= 16


@pytest.mark.parametrize("headers", [{}, auth("wrong-key"), auth("")])
async def test_missing_or_wrong_key_gets_the_documented_401(headers: dict[str, str]) -> None:
    async with Emulator(key=KEY) as emu, aiohttp.ClientSession() as session:
        async with session.put(
            f"{emu.url}/face/v1.0/persongroups/g1", json={"name": "g"}, headers=headers
        ) as resp:
            assert resp.status == 401
            assert await resp.json() == ACCESS_DENIED
        assert emu.stats.unauthorized == 1
        assert emu.stats.responses == {401: 1}
        assert emu.stats.requests == {}  # never reached an operation
        assert emu.state.person_groups == {}


async def test_emulator_endpoints_require_the_key(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        for method, path in [
            ("GET", "stats"),
            ("POST", "reset"),
            ("GET", "config"),
            ("POST", "config"),
        ]:
            async with session.request(
                method, f"{emulator.url}/_emulator/{path}", headers=auth("nope"), json={}
            ) as resp:
                assert resp.status == 401, path
                assert await resp.json() == ACCESS_DENIED


async def test_stats_endpoint_reports_counters_and_state(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        base = f"{emulator.url}/face/v1.0"
        async with session.put(f"{base}/persongroups/g1", json={"name": "g"}, headers=auth()):
            pass
        async with session.post(
            f"{base}/persongroups/g1/persons", json={"name": "ann"}, headers=auth()
        ) as resp:
            person_id = (await resp.json())["personId"]
        async with session.get(f"{emulator.url}/_emulator/stats", headers=auth()) as resp:
            assert resp.status == 200
            body = await resp.json()
    assert body["total_requests"] == 2  # the stats call itself is not counted
    assert body["requests"] == {"PersonGroup_Create": 1, "PersonGroupPerson_Create": 1}
    assert body["responses"] == {"200": 2}
    assert body["conflicts"] == 0
    assert body["rate_limited"] == 0
    group = body["state"]["person_groups"]["g1"]
    assert group["persons"] == 1
    assert group["faces"] == 0
    assert group["per_person"][person_id]["faces"] == 0


async def test_reset_clears_state_counters_and_fault_counts(emulator: Emulator) -> None:
    emulator.config.faults = [Fault("500", operations="PersonGroup_Get", count=1)]
    async with aiohttp.ClientSession() as session:
        base = f"{emulator.url}/face/v1.0"
        async with session.put(f"{base}/persongroups/g1", json={"name": "g"}, headers=auth()):
            pass
        async with session.get(f"{base}/persongroups/g1", headers=auth()) as resp:
            assert resp.status == 500
        assert emulator.knobs.fired(emulator.config.faults[0]) == 1
        async with session.post(f"{emulator.url}/_emulator/reset", headers=auth()) as resp:
            assert resp.status == 200
        assert emulator.state.person_groups == {}
        assert emulator.stats.total_requests == 0
        assert emulator.stats.requests == {}
        assert emulator.stats.faults == {}
        # The fault rule is armed again: its count restarts after a reset.
        assert emulator.knobs.fired(emulator.config.faults[0]) == 0
        async with session.put(f"{base}/persongroups/g1", json={"name": "g"}, headers=auth()):
            pass
        async with session.get(f"{base}/persongroups/g1", headers=auth()) as resp:
            assert resp.status == 500
        async with session.get(f"{base}/persongroups/g1", headers=auth()) as resp:
            assert resp.status == 200
    assert emulator.stats.faults == {"500": 1}


async def test_config_endpoint_sets_knobs_from_json(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.url}/_emulator/config"
        update = {
            "latency": {"PersonGroup_*": "uniform:0.001:0.002", "*": 0.0},
            "rate_limit": "50:10",
            "faults": ["503:0.5:*AddFace*:3", {"kind": "reset_after_commit"}],
            "slow_seconds": 2,
            "conflict_mode": "wait",
            "seed": 7,
        }
        async with session.post(url, json=update, headers=auth()) as resp:
            assert resp.status == 200
            echoed = await resp.json()
        config = emulator.config
        assert config.latency == {
            "PersonGroup_*": Latency.uniform(0.001, 0.002),
            "*": Latency.fixed(0.0),
        }
        assert config.rate_limit == RateLimit(50, 10)
        assert [(f.kind, f.probability, f.operations, f.count) for f in config.faults] == [
            ("503", 0.5, "*AddFace*", 3),
            ("reset_after_commit", 1.0, "*", None),
        ]
        assert (config.slow_seconds, config.conflict_mode, config.seed) == (2.0, "wait", 7)
        assert echoed["faults"] == ["503:0.5:*AddFace*:3", "reset_after_commit:1.0:*"]
        async with session.get(url, headers=auth()) as resp:
            assert await resp.json() == echoed

        # A bad value answers 400 and changes nothing, not even the valid keys beside it.
        async with session.post(
            url, json={"conflict_mode": "conflict", "faults": ["boom:1"]}, headers=auth()
        ) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["code"] == "BadArgument"
        async with session.post(url, json={"nonsense": 1}, headers=auth()) as resp:
            assert resp.status == 400
    assert emulator.config.conflict_mode == "wait"
    assert len(emulator.config.faults) == 2


async def test_after_close_the_port_refuses_connections() -> None:
    emu = Emulator(key=KEY, config=EmulatorConfig())
    async with emu:
        url = emu.url
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            async with session.get(f"{url}/face/v1.0/persongroups", headers=auth()):
                pass


async def test_seed_argument_overrides_the_config_seed() -> None:
    config = EmulatorConfig(seed=3)
    assert Emulator(config=config).config.seed == 3
    assert Emulator(config=config, seed=11).config.seed == 11
    with pytest.raises(RuntimeError):
        _ = Emulator().url


async def test_a_taken_port_raises_and_a_running_emulator_refuses_a_second_start() -> None:
    async with Emulator(key=KEY) as first:
        with pytest.raises(OSError, match="address already in use"):
            await Emulator(key=KEY, port=first.port).start()
        with pytest.raises(RuntimeError, match="already running"):
            await first.start()


async def test_stats_wait_for_times_out_when_the_condition_never_holds(
    emulator: Emulator,
) -> None:
    with pytest.raises(TimeoutError):
        await emulator.stats.wait_for(lambda s: s.completed > 0, timeout=0.05)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emulator.url}/face/v1.0/persongroups", headers=auth()) as resp,
    ):
        assert resp.status == 200
    await emulator.stats.wait_for(lambda s: s.completed == 1, timeout=5)


def test_live_objects_cannot_be_replaced() -> None:
    emu = Emulator()
    with pytest.raises(AttributeError):
        emu.config = EmulatorConfig()  # type: ignore[misc]
    assert emu.knobs.config is emu.config


async def test_close_cancels_requests_still_sleeping() -> None:
    emu = Emulator(key=KEY, shutdown_timeout=0.1)
    emu.config.slow_seconds = 60
    emu.config.faults = [Fault("slow", operations="PersonGroup_List")]
    loop = asyncio.get_running_loop()
    async with emu, aiohttp.ClientSession() as session:
        with pytest.raises(asyncio.TimeoutError):
            async with session.get(
                f"{emu.url}/face/v1.0/persongroups",
                headers=auth(),
                timeout=aiohttp.ClientTimeout(total=0.1),
            ):
                pass
        await emu.stats.wait_for(lambda s: s.in_flight == 1, timeout=5)
        started = loop.time()
    assert loop.time() - started < 5  # not the 60 s of the fault
    assert emu.stats.in_flight == 0
    assert emu.stats.faults == {"slow": 1}
