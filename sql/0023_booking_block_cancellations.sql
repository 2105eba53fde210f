-- The watchlist page lists the bookings a block cancelled in the last seven days (cancel note
-- 'number blocked', written by schedules.booking.cancel_bookings_to_blocked_number). A partial index keeps
-- that a look at a handful of rows instead of a scan of every booking ever made.
CREATE INDEX booking_block_cancellations_idx ON bookings (cancelled_at) WHERE cancel_note = 'number blocked';
