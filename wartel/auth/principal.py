"""Who is asking: the authenticated user. What they may see and do is :mod:`wartel.scope`'s to say."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from audit import Actor

Role = Literal["officer", "security", "regional", "admin"]
ALL_ROLES: frozenset[str] = frozenset({"officer", "security", "regional", "admin"})


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    facility_id: int | None
    region_id: int | None
    via: Literal["session", "token"]
    csrf_token: str | None = None
    language: str = "id"

    def actor(self, request_id: str | None) -> Actor:
        return Actor(type="user", id=str(self.user_id), role=self.role, request_id=request_id)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
