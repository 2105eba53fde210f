-- Why the facility side cancelled a booking, as a closed set of values instead of a free-text note used as a
-- key (0023 indexed the note 'number blocked'). The note stays what it always was: words for people.
ALTER TABLE bookings ADD COLUMN cancel_cause text
    CONSTRAINT booking_cancel_cause_known CHECK (cancel_cause IN (
        'booth_out_of_service', 'closure', 'hours_changed', 'inmate_left', 'contact_withdrawn',
        'number_blocked', 'sanction', 'not_put_through')),
    ADD CONSTRAINT booking_cancel_cause_only_when_cancelled CHECK (cancel_cause IS NULL OR status = 'cancelled');
COMMENT ON COLUMN bookings.cancel_cause IS 'The registry change (or block, or sanction) that cancelled the booking; NULL for a cancellation someone asked for.';

-- Earlier block cancellations are found through 0023's index, by the note every one of them carries.
UPDATE bookings SET cancel_cause = 'number_blocked' WHERE cancel_note = 'number blocked' AND status = 'cancelled';

-- The watchlist page lists the bookings blocks cancelled in the last seven days.
DROP INDEX booking_block_cancellations_idx;
CREATE INDEX booking_block_cancellations_idx ON bookings (cancelled_at) WHERE cancel_cause = 'number_blocked';
