"""Secrets never reach the logs: a real ``wartel serve`` at DEBUG level, its whole output searched afterwards."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.factory import PASSWORD, Factory
from tests.faults.cluster import ROOT, free_port
from tests.faults.seed import token_for

WRONG_PASSWORD = "Wr0ng-Secret-Pa55word"
PHONE = "+6281234567890"


def _spawn(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "wartel.cli", "serve"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise AssertionError(_tail(log))
            try:
                async with http.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"service did not start:\n{_tail(log)}")


async def test_passwords_tokens_and_cookies_never_reach_the_logs(database, owner_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = Factory(owner_conn)
    fid = await f.facility()
    user_id = await f.user("admin", username="logwatch", phone=PHONE)
    bearer = await token_for(owner_conn, user_id)
    await f.user("officer", facility_id=fid, username="victim")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "service.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARTEL_")}
    env.update({"WARTEL_DATABASE_URL": database.app_dsn, "WARTEL_MIGRATE_DATABASE_URL": database.owner_dsn,
                "WARTEL_DATA_DIR": str(tmp_path), "WARTEL_DEMO": "false", "WARTEL_SCHEDULER": "false",
                "WARTEL_LOG_FORMAT": "json", "WARTEL_LOG_LEVEL": "DEBUG", "WARTEL_PORT": str(port),
                "WARTEL_HOST": "127.0.0.1"})
    proc = _spawn(env, log_path)
    secrets_seen: list[str] = [PASSWORD, WRONG_PASSWORD, bearer]
    try:
        await _wait_up(url, proc, log_path)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{url}/api/v1/auth/login", json={"username": "victim", "password": WRONG_PASSWORD}) as r:
                assert r.status == 401
            async with http.post(f"{url}/api/v1/auth/login", json={"username": "logwatch", "password": PASSWORD}) as r:
                assert r.status == 200, await r.text()
                csrf = (await r.json())["csrf_token"]
                secrets_seen += [csrf, r.cookies["wartel_session"].value]
            async with http.post(f"{url}/api/v1/auth/tokens", json={"name": "minted"},
                                 headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 201, await r.text()
                secrets_seen.append((await r.json())["token"])
            async with http.post(f"{url}/api/v1/auth/tokens", json={"name": "no csrf"}) as r:
                assert r.status == 403
            # A secret in the query string or a bad bearer token is not echoed into the log either.
            async with http.get(f"{url}/api/v1/auth/me?password={PASSWORD.replace(' ', '+')}") as r:
                assert r.status in (200, 422)
            forged = "wtl_" + "Z" * 43
            secrets_seen.append(forged)
            async with aiohttp.ClientSession() as bare:
                async with bare.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}) as r:
                    assert r.status == 401
                async with bare.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {bearer}"}) as r:
                    assert r.status == 200
            for _ in range(6):  # into throttling
                async with http.post(f"{url}/api/v1/auth/login",
                                     json={"username": "victim", "password": WRONG_PASSWORD}) as r:
                    pass
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = await asyncio.to_thread(log_path.read_text, errors="replace")
    assert '"event": "request"' in text, text[-2000:]  # the log did capture the requests
    for secret in secrets_seen:
        assert secret not in text, f"a secret reached the log: {secret[:6]}…"
    assert PHONE not in text
