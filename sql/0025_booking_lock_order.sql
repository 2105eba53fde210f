-- A booking and every registry change that invalidates bookings serialise (docs/architecture.md, "Lock
-- order"). The booking takes FOR KEY SHARE on the rows it depends on, in the order facility, booth, contact,
-- inmate, and only then reads what it is judged on; each change takes FOR UPDATE on its row before it
-- writes anything, and cancels the bookings it makes impossible in the same transaction:
--   closures, opening hours, policies   -> facility row(s)     booth service state -> booth row
--   contact verify/reject/revoke,        -> contact row(s)      sanctions, transfer, -> inmate row
--   watchlist blocks (matching numbers)                        release
-- Either the change commits first, and the booking (waiting on the lock) then reads it and refuses; or the
-- booking commits first, and the change (waiting on the lock) then sees the booking and cancels it.
--
-- Why a function: under READ COMMITTED a statement reads one snapshot taken when it starts. A lock waited
-- for inside the statement would not make the change it waited for visible to the rest of that statement
-- (the closure just added, the sanction just imposed). A VOLATILE plpgsql function takes a fresh snapshot
-- for each statement in it: the locks first, then the context query, which therefore sees every change
-- that committed before the locks were granted. Still one round trip for the service.
-- FOR KEY SHARE (not FOR SHARE): it conflicts only with FOR UPDATE, so ordinary updates of these rows
-- (a name, updated_at, the foreign key checks of other bookings) never wait for a booking, nor it for them.

CREATE FUNCTION booking_context(p_facility_id bigint, p_booth_id bigint, p_inmate_id bigint, p_contact_id bigint,
                                p_starts_at timestamptz, p_moving bigint)
RETURNS TABLE (
    facility_id bigint, region_id bigint, time_zone text, slot_minutes integer,
    booth_found boolean, booth_kind text, in_service boolean, booth_max integer,
    inmate_status text, current_facility_id bigint, risk_level text,
    contact_inmate_id bigint, contact_status text, is_legal_counsel boolean, contact_max integer,
    local_day date, opens time, closes time, aligned boolean, closure_id bigint,
    policy_id bigint, version integer, scope text, scope_region_id bigint, scope_facility_id bigint,
    policy_risk_level text, allowance text, period text, calls_allowed integer, max_minutes integer,
    min_lead_minutes integer, max_days_ahead integer, cancel_cutoff_minutes integer, no_show_consumes boolean,
    booth_kinds text[], note text, created_by bigint, created_at timestamptz,
    suspended boolean, sanction_calls integer, sanction_minutes integer, sanction_ids bigint[],
    blocked_entry_id bigint, taken_by bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM facilities WHERE id = p_facility_id FOR KEY SHARE;
    PERFORM 1 FROM booths WHERE facility_id = p_facility_id AND booth_id = p_booth_id FOR KEY SHARE;
    PERFORM 1 FROM contacts WHERE id = p_contact_id FOR KEY SHARE;
    PERFORM 1 FROM inmates WHERE id = p_inmate_id FOR KEY SHARE;
    RETURN QUERY
    SELECT f.id, f.region_id, f.time_zone, f.slot_minutes,
           b.booth_id IS NOT NULL, b.kind, b.in_service, b.max_call_minutes,
           i.status, i.current_facility_id, i.risk_level,
           k.inmate_id, k.status, k.is_legal_counsel, k.max_call_minutes,
           w.local_day, w.opens, w.closes, w.aligned, cl.closure_id,
           p.policy_id, p.version, p.scope, p.scope_region_id, p.scope_facility_id, p.risk_level,
           p.allowance, p.period, p.calls_allowed, p.max_minutes, p.min_lead_minutes, p.max_days_ahead,
           p.cancel_cutoff_minutes, p.no_show_consumes, p.booth_kinds, p.note, p.created_by, p.created_at,
           s.suspended, s.calls_allowed, s.max_minutes, s.sanction_ids,
           wl.entry_id, bt.taken_by
      FROM facilities f
      LEFT JOIN booths b ON b.facility_id = f.id AND b.booth_id = p_booth_id
      LEFT JOIN inmates i ON i.id = p_inmate_id
      LEFT JOIN contacts k ON k.id = p_contact_id
      CROSS JOIN LATERAL facility_slot(f.id, p_starts_at) w
      LEFT JOIN LATERAL (
            SELECT c.closure_id FROM closures c
             WHERE c.facility_id = f.id AND c.during && tstzrange(p_starts_at, w.ends_at, '[)')
             LIMIT 1) cl ON true
      LEFT JOIN LATERAL applicable_policy(f.id, f.region_id, i.risk_level,
                                          CASE WHEN k.is_legal_counsel THEN 'legal' ELSE 'family' END) p ON true
      CROSS JOIN LATERAL sanction_restriction(p_inmate_id, p_starts_at) s
      LEFT JOIN LATERAL blocking_watchlist_entry(k.phone_e164, f.id, f.region_id) wl ON true
      -- A slot already booked (and committed) is refused here rather than by a failed insert: the hot slot
      -- everyone wants is refused without writing and rolling back a row. The exclusion constraint still
      -- decides every race this read cannot see. p_moving is the booking being moved, never in its own way.
      LEFT JOIN LATERAL (
            SELECT x.booking_id AS taken_by FROM bookings x
             WHERE x.facility_id = f.id AND x.booth_id = p_booth_id AND x.status <> 'cancelled'
               AND x.slot && tstzrange(p_starts_at, w.ends_at, '[)')
               AND x.booking_id IS DISTINCT FROM p_moving
             LIMIT 1) bt ON true
     WHERE f.id = p_facility_id;
END
$$;
COMMENT ON FUNCTION booking_context IS 'Locks what a booking depends on (lock order: facility, booth, contact, inmate), then returns everything it is judged on.';
