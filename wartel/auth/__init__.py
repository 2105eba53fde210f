"""Authentication (passwords, sessions, API tokens) and authorisation (roles and scope)."""
