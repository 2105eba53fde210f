"""Anomaly detection on calls, registrations, bookings and the audit log, and the review of its flags.

Part of the ``audit`` package: imports nothing from ``wartel`` or ``schedules``. Rules are set-based SQL
(``rules_*.py``), catalogued in :mod:`audit.detection.catalogue`, run by :mod:`audit.detection.engine`.
"""
