"""The registry: regions, facilities and their booths, hours and closures, inmates, contacts.

Every function takes an asyncpg connection, checks scope through :mod:`wartel.auth.principal` where it
is given a principal, raises :mod:`wartel.errors` domain errors, and appends its audit record in the
caller's transaction. The HTTP layer (``wartel.api``) only parses and renders.
"""
