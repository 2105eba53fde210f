-- The no-show sweeper looks for live bookings whose slot has ended, across facilities, every minute:
-- a partial index keeps that a short range scan however large the bookings table grows.
CREATE INDEX bookings_open_slot_end_idx ON bookings (upper(slot)) WHERE status IN ('booked', 'checked_in');
