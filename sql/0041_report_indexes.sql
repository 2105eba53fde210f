-- Indexes for the compliance report's heaviest questions, partial so they stay small and cheap to keep.

-- Who had a completed call in a window (rights fulfilment, inmates without a call): index-only scans.
CREATE INDEX calls_completed_facility_idx ON calls (facility_id, started_at) INCLUDE (inmate_id)
    WHERE outcome IN ('completed', 'time_limited');
-- An inmate's last completed call, read backwards with LIMIT 1 however long the history.
CREATE INDEX calls_completed_inmate_idx ON calls (inmate_id, started_at)
    WHERE outcome IN ('completed', 'time_limited');
-- Officer cut-offs are rare; the report counts them per officer without scanning every call.
CREATE INDEX calls_cut_off_idx ON calls (facility_id, started_at) INCLUDE (ended_by)
    WHERE outcome = 'cut_off';
