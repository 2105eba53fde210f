"""HTTP API under /api/v1: one module per area of the domain, each with its endpoint table."""

from __future__ import annotations

from wartel.http.endpoints import EndpointTable


def all_tables() -> list[EndpointTable]:
    # Imported here, not at module level, so a page or CLI import does not drag in every handler.
    from wartel.api import audit as audit_api  # audit area
    from wartel.api import (  # registry area  # detection area  # schedules area
        auth,
        board,
        bookings,
        calls,
        contacts,
        facilities,
        flags,
        inmates,
        kiosk,
        links,
        policies,
        privacy,
        regions,
        reports,  # reports area
        sanctions,
        system,
        users,
        watchlist,
    )

    return [system.routes, auth.routes, regions.routes, facilities.routes, inmates.routes, contacts.routes,
            users.routes, bookings.routes, calls.routes, policies.routes,
            sanctions.routes, kiosk.routes, board.routes, audit_api.routes,
            flags.routes, watchlist.routes, links.routes, reports.routes, privacy.routes]
