"""The command registry every CLI module registers into, and what commands share (the owner connection).

It sits below ``wartel.cli`` and the areas' command modules (``audit_cli``, ``detect_cli``,
``reports.cli``): they import it, ``wartel.cli`` imports them, and nothing imports back up, so the CLI has
no import cycle and ``python -m wartel.cli`` dispatches through the same registry as the ``wartel`` script.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import asyncpg

from wartel.config import Settings
from wartel.db import DatabaseTarget, connect, ensure_target_database, resolve_target

Command = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    """Register a subcommand's function under its name (``"audit verify"``)."""

    def register(func: Command) -> Command:
        COMMANDS[name] = func
        return func

    return register


async def owner_conn(settings: Settings) -> tuple[DatabaseTarget, asyncpg.Connection]:
    """The database target (started or created if need be) and a connection as the schema owner."""
    target = resolve_target(settings)
    await ensure_target_database(target)
    return target, await connect(target.owner_dsn)
