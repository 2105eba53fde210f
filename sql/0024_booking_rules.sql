-- Each booking rule written once, here, and used by the one-round-trip booking query and by every other
-- reader (call rights, availability, cancellations, the watchlist, detection). The functions are
-- LANGUAGE sql, STABLE or IMMUTABLE and a single SELECT, so the planner inlines them into the calling query:
-- they cost what the copied text cost, and there is no second copy to drift.

-- Which policy applies: the most specific one. A facility's own beats its region's, which beats the national
-- default; at one level the policy for the inmate's risk level beats the one for every level.
CREATE FUNCTION applicable_policy(p_facility_id bigint, p_region_id bigint, p_risk_level text, p_allowance text)
RETURNS TABLE (policy_id bigint, version integer, scope text, scope_region_id bigint, scope_facility_id bigint,
               risk_level text, allowance text, period text, calls_allowed integer, max_minutes integer,
               min_lead_minutes integer, max_days_ahead integer, cancel_cutoff_minutes integer,
               no_show_consumes boolean, booth_kinds text[], note text, created_by bigint, created_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT pp.policy_id, v.version, pp.scope, pp.scope_region_id, pp.scope_facility_id, pp.risk_level,
           pp.allowance, v.period, v.calls_allowed, v.max_minutes, v.min_lead_minutes, v.max_days_ahead,
           v.cancel_cutoff_minutes, v.no_show_consumes, v.booth_kinds, v.note, v.created_by, v.created_at
      FROM call_policies pp
      JOIN call_policy_versions v ON v.policy_id = pp.policy_id AND v.version = pp.current_version
     WHERE pp.allowance = p_allowance
       AND (pp.risk_level IS NULL OR pp.risk_level = p_risk_level)
       AND (pp.scope = 'national' OR (pp.scope = 'region' AND pp.scope_region_id = p_region_id)
            OR (pp.scope = 'facility' AND pp.scope_facility_id = p_facility_id))
     ORDER BY CASE pp.scope WHEN 'facility' THEN 0 WHEN 'region' THEN 1 ELSE 2 END, pp.risk_level IS NULL
     LIMIT 1
$$;
COMMENT ON FUNCTION applicable_policy IS 'The current version of the call policy that applies (most specific wins).';

-- How sanctions combine: every sanction in force at an instant, the most restrictive wins. Always one row.
CREATE FUNCTION sanction_restriction(p_inmate_id bigint, p_at timestamptz)
RETURNS TABLE (suspended boolean, calls_allowed integer, max_minutes integer, sanction_ids bigint[])
LANGUAGE sql STABLE AS $$
    SELECT coalesce(bool_or(s.kind = 'suspend'), false), min(s.calls_allowed), min(s.max_minutes),
           coalesce(array_agg(s.sanction_id ORDER BY s.sanction_id), '{}')
      FROM sanctions s
     WHERE s.inmate_id = p_inmate_id AND s.during @> p_at AND s.lifted_at IS NULL
$$;
COMMENT ON FUNCTION sanction_restriction IS 'Sanctions in force at an instant, combined: suspended if any suspends, else the lowest limits.';

-- Slot alignment: a slot starts at an opening time plus whole slot lengths and ends inside the same window,
-- all in the facility's own zone. One row for an existing facility; opens is NULL outside opening hours.
CREATE FUNCTION facility_slot(p_facility_id bigint, p_starts_at timestamptz)
RETURNS TABLE (local_day date, opens time, closes time, aligned boolean, ends_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT (p_starts_at AT TIME ZONE f.time_zone)::date, oh.opens, oh.closes,
           oh.opens IS NOT NULL
           AND mod(extract(epoch FROM (p_starts_at AT TIME ZONE f.time_zone)
                                      - ((p_starts_at AT TIME ZONE f.time_zone)::date + oh.opens)),
                   f.slot_minutes * 60) = 0
           AND (p_starts_at AT TIME ZONE f.time_zone) + make_interval(mins => f.slot_minutes)
               <= (p_starts_at AT TIME ZONE f.time_zone)::date + oh.closes,
           p_starts_at + make_interval(mins => f.slot_minutes)
      FROM facilities f
      LEFT JOIN opening_hours oh
        ON oh.facility_id = f.id AND oh.weekday = extract(isodow FROM p_starts_at AT TIME ZONE f.time_zone)
       AND oh.opens <= (p_starts_at AT TIME ZONE f.time_zone)::time
       AND (p_starts_at AT TIME ZONE f.time_zone)::time < oh.closes
     WHERE f.id = p_facility_id
$$;
COMMENT ON FUNCTION facility_slot IS 'The opening window holding an instant and whether a slot may start there (alignment, fits the window).';

-- Watchlist matching: an entry covers a number if it is that number, or a prefix of it.
CREATE FUNCTION watchlist_pattern_matches(p_pattern_kind text, p_pattern text, p_e164 text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_pattern = p_e164 OR (p_pattern_kind = 'prefix' AND starts_with(p_e164, p_pattern))
$$;

-- ... and applies at a facility if it is national, the facility's region's, or the facility's own.
CREATE FUNCTION watchlist_scope_covers(p_scope text, p_scope_id bigint, p_facility_id bigint, p_region_id bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_scope = 'national' OR (p_scope = 'region' AND p_scope_id = p_region_id)
           OR (p_scope = 'facility' AND p_scope_id = p_facility_id)
$$;

-- The first blocking entry for a number at a facility, if any. The watchlist table is created by 0030 (it
-- belongs to detection); on an empty database this file runs first, so the body is checked when first used,
-- as pg_dump restores do.
SET check_function_bodies = off;
CREATE FUNCTION blocking_watchlist_entry(p_e164 text, p_facility_id bigint, p_region_id bigint)
RETURNS TABLE (entry_id bigint) LANGUAGE sql STABLE AS $$
    SELECT w.id FROM watchlist w
     WHERE w.removed_at IS NULL AND w.mode = 'blocked'
       AND watchlist_scope_covers(w.scope, w.scope_id, p_facility_id, p_region_id)
       AND watchlist_pattern_matches(w.pattern_kind, w.pattern, p_e164)
     ORDER BY w.id LIMIT 1
$$;
RESET check_function_bodies;
