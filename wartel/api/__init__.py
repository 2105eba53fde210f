"""HTTP API under /api/v1: one module per area of the domain, each with its endpoint table."""

from __future__ import annotations

from wartel.http.endpoints import EndpointTable


def all_tables() -> list[EndpointTable]:
    # Imported here, not at module level, so a page or CLI import does not drag in every handler.
    from wartel.api import audit as audit_api  # audit area
    from wartel.api import (  # registry area  # detection area
        auth,
        contacts,
        facilities,
        flags,
        inmates,
        links,
        regions,
        reports,  # reports area
        system,
        users,
        watchlist,
    )
    from wartel.api import bookings as schedules_bookings  # schedules area

    return [system.routes, auth.routes, regions.routes, facilities.routes, inmates.routes, contacts.routes,
            users.routes, *schedules_bookings.TABLES, audit_api.routes,
            flags.routes, watchlist.routes, links.routes, reports.routes]
