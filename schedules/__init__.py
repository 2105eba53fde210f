"""Call rights, slots, booking, the supervised call lifecycle and their scheduled jobs.

Imports ``audit`` (to record every change in the same transaction), never ``wartel``.
"""
