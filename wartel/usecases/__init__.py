"""Use cases: acts that span areas, written once and called by both faces (the API and the pages).

Each takes a connection (in the caller's transaction) and the request's :class:`wartel.scope.Scope`,
checks the caller's role and scope through it, composes the domain functions of ``audit`` and
``schedules`` and raises domain errors; the faces only parse, call and render.
"""
