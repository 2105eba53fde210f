"""Wartel: the service behind Wartelsuspas, the supervised call kiosks of Indonesian correctional facilities."""

__version__ = "0.1.0"
