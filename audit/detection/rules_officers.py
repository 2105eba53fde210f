"""Officer integrity rules (detection.md patterns 14-18): the WBK angle."""

from __future__ import annotations

from audit.detection.fragments import expand

# 14. Quota overrides, facility-side cancellations and listed audit actions per officer per week,
# against the facility's officers that week (modified z; at least min_peers officers to compare).
OVERRIDE_RATE = expand("""
WITH /*prm*/,
bounds AS (SELECT least(detection_bucket($1::timestamptz, 7), detection_bucket($2::timestamptz, 7)) - interval '7 days' AS lo),
/*user_audit*/,
acts AS (
    SELECT b.facility_id, b.booked_by AS officer_id, 'override' AS kind, b.booking_id AS record_id, b.booked_at AS t
      FROM bookings b
     WHERE b.is_override AND b.booked_at >= (SELECT lo FROM bounds) AND b.booked_at < $2::timestamptz
    UNION ALL
    SELECT b.facility_id, b.cancelled_by, 'cancellation', b.booking_id, b.cancelled_at
      FROM bookings b
     WHERE b.status = 'cancelled' AND b.cancelled_by IS NOT NULL AND b.cancel_reason IN ('facility', 'technical')
       AND b.cancelled_at >= (SELECT lo FROM bounds) AND b.cancelled_at < $2::timestamptz
    UNION ALL
    SELECT a.facility_id, a.officer_id, a.action, a.seq, a.t
      FROM user_audit a
     WHERE a.action IN (SELECT jsonb_array_elements_text($3::text::jsonb->'audit_actions'))),
-- Peers: every officer who booked or acted in the facility that week, including those with no override.
active AS (
    SELECT b.facility_id, b.booked_by AS officer_id, b.booked_at AS t
      FROM bookings b WHERE b.booked_at >= (SELECT lo FROM bounds) AND b.booked_at < $2::timestamptz
    UNION ALL
    SELECT facility_id, officer_id, t FROM acts),
weeks AS (
    SELECT DISTINCT a.facility_id, a.officer_id, per.period_start AS wk
      FROM active a CROSS JOIN LATERAL unnest(detection_periods(a.t, $2::timestamptz, 7)) AS per(period_start)),
act_counts AS (
    SELECT a.facility_id, a.officer_id, per.period_start AS wk, count(*) AS n,
           (array_agg(a.record_id ORDER BY a.t) FILTER (WHERE a.kind = 'override'))[1:50] AS override_booking_ids,
           (array_agg(a.record_id ORDER BY a.t) FILTER (WHERE a.kind = 'cancellation'))[1:50] AS cancelled_booking_ids,
           count(*) FILTER (WHERE a.kind NOT IN ('override', 'cancellation')) AS audit_actions, max(a.t) AS last_at
      FROM acts a CROSS JOIN LATERAL unnest(detection_periods(a.t, $2::timestamptz, 7)) AS per(period_start)
     GROUP BY a.facility_id, a.officer_id, per.period_start),
counts AS (
    SELECT w.facility_id, w.officer_id, w.wk, coalesce(ac.n, 0) AS n, ac.override_booking_ids, ac.cancelled_booking_ids,
           coalesce(ac.audit_actions, 0) AS audit_actions, ac.last_at
      FROM weeks w LEFT JOIN act_counts ac USING (facility_id, officer_id, wk)),
peers AS (
    SELECT facility_id, wk, array_agg(n::float8) AS vals FROM counts GROUP BY facility_id, wk),
scored AS (
    SELECT c.*, f.region_id, prm.p, p2.vals, detection_median(p2.vals) AS med,
           detection_modified_z(c.n, p2.vals, (prm.p->>'mad_floor')::float8) AS z
      FROM counts c
      JOIN peers p2 USING (facility_id, wk)
      JOIN facilities f ON f.id = c.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE c.wk >= detection_bucket($1::timestamptz, 7) AND c.n >= (prm.p->>'min_actions')::int
       AND cardinality(p2.vals) >= (prm.p->>'min_peers')::int
       AND ($5::bigint[] IS NULL OR c.officer_id = ANY($5::bigint[])))
SELECT region_id, 'officer', officer_id::text, wk, ARRAY[facility_id], z, coalesce(last_at, wk),
       jsonb_build_object('week_start', wk, 'actions', n, 'peer_counts', vals, 'peer_median', med,
                          'modified_z', round(z::numeric, 2), 'override_booking_ids', override_booking_ids,
                          'cancelled_booking_ids', cancelled_booking_ids, 'audit_actions', audit_actions,
                          'thresholds', jsonb_build_object('z', (p->>'z_threshold')::float8,
                                                           'min_actions', (p->>'min_actions')::int,
                                                           'min_peers', (p->>'min_peers')::int,
                                                           'min_excess_sd', (p->>'min_excess_sd')::float8))
  FROM scored
 WHERE z > (p->>'z_threshold')::float8
   -- Counts of a handful of officers are Poisson-noisy: also require a margin over the peers' median of
   -- min_excess_sd Poisson standard deviations, or six officers' ordinary weeks keep crossing z = 3.5.
   AND n >= med + (p->>'min_excess_sd')::float8 * sqrt(greatest(med, 1))
""")

# 15. Favouritism: more than max_share (and at least min_overrides) of an officer's overrides to one inmate.
FAVOURITISM = expand("""
WITH /*prm*/, /*bounds*/,
ov AS (
    SELECT prm.region_id, prm.p, b.facility_id, b.booked_by AS officer_id, b.inmate_id, b.booking_id, b.booked_at,
           per.period_start
      FROM bookings b
      JOIN facilities f ON f.id = b.facility_id
      JOIN prm ON prm.region_id = f.region_id
     CROSS JOIN LATERAL unnest(detection_periods(b.booked_at, $2::timestamptz, prm.wd)) AS per(period_start)
     WHERE b.is_override AND b.booked_at >= (SELECT lo FROM bounds) AND b.booked_at < $2::timestamptz
       AND ($5::bigint[] IS NULL OR b.booked_by = ANY($5::bigint[]))
       AND per.period_start >= detection_bucket($1::timestamptz, prm.wd)),
per_inmate AS (
    SELECT region_id, officer_id, period_start, inmate_id, count(*) AS n, array_agg(booking_id ORDER BY booked_at) AS ids,
           max(booked_at) AS last_at, min(facility_id) AS facility_id, min(p::text)::jsonb AS p
      FROM ov GROUP BY region_id, officer_id, period_start, inmate_id),
ranked AS (
    SELECT pi.*, sum(n) OVER (PARTITION BY region_id, officer_id, period_start) AS total,
           row_number() OVER (PARTITION BY region_id, officer_id, period_start ORDER BY n DESC, inmate_id) AS rk
      FROM per_inmate pi)
SELECT region_id, 'officer', officer_id::text, period_start, ARRAY[facility_id], (n::float8 / total), last_at,
       jsonb_build_object('inmate_id', inmate_id, 'overrides_to_inmate', n, 'overrides_total', total,
                          'share', round(n::numeric / total, 3), 'booking_ids', ids,
                          'thresholds', jsonb_build_object('max_share', (p->>'max_share')::float8,
                                                           'min_overrides', (p->>'min_overrides')::int,
                                                           'window_days', (p->>'window_days')::int))
  FROM ranked
 WHERE rk = 1 AND n >= (p->>'min_overrides')::int AND n::float8 / total > (p->>'max_share')::float8
""")

# 16. Actions outside the officer's shift (any action) or outside kiosk hours (check-ins, ending calls),
# in the facility's own time zone.
OUT_OF_HOURS = expand("""
WITH /*prm*/,
bounds AS (SELECT least(detection_bucket($1::timestamptz, 1), $2::timestamptz - interval '1 day') AS lo),
/*user_audit*/,
acts AS (
    SELECT b.facility_id, b.booked_by AS officer_id, 'booked' AS kind, b.booking_id AS record_id, b.booked_at AS t, false AS kiosk
      FROM bookings b WHERE b.booked_at >= (SELECT lo FROM bounds) AND b.booked_at < $2::timestamptz
    UNION ALL
    SELECT b.facility_id, b.cancelled_by, 'cancelled', b.booking_id, b.cancelled_at, false
      FROM bookings b WHERE b.cancelled_by IS NOT NULL AND b.cancelled_at >= (SELECT lo FROM bounds) AND b.cancelled_at < $2::timestamptz
    UNION ALL
    SELECT b.facility_id, b.checked_in_by, 'checked_in', b.booking_id, b.checked_in_at, true
      FROM bookings b WHERE b.checked_in_by IS NOT NULL AND b.checked_in_at >= (SELECT lo FROM bounds) AND b.checked_in_at < $2::timestamptz
    UNION ALL
    SELECT c.facility_id, c.ended_by, 'ended_call', c.call_id, c.ended_at, true
      FROM calls c WHERE c.ended_by IS NOT NULL AND c.ended_at >= (SELECT lo FROM bounds) AND c.ended_at < $2::timestamptz
    UNION ALL
    SELECT i.current_facility_id, k.verified_by, 'verified_contact', k.id, k.verified_at, false
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
     WHERE k.verified_by IS NOT NULL AND k.verified_at >= (SELECT lo FROM bounds) AND k.verified_at < $2::timestamptz
    UNION ALL
    SELECT a.facility_id, a.officer_id, 'audit:' || a.action, a.seq, a.t, false FROM user_audit a
     WHERE a.facility_id IS NOT NULL),
located AS (
    SELECT a.*, f.region_id, u.shift_starts, u.shift_ends, (a.t AT TIME ZONE f.time_zone) AS local_ts
      FROM acts a
      JOIN facilities f ON f.id = a.facility_id
      JOIN users u ON u.id = a.officer_id
     WHERE u.role IN ('officer', 'security') AND ($5::bigint[] IS NULL OR a.officer_id = ANY($5::bigint[]))),
with_hours AS (SELECT DISTINCT facility_id FROM opening_hours),
judged AS (
    SELECT l.*,
           (l.shift_starts IS NOT NULL AND l.shift_ends IS NOT NULL AND CASE
                WHEN l.shift_starts <= l.shift_ends THEN NOT (l.local_ts::time >= l.shift_starts AND l.local_ts::time < l.shift_ends)
                ELSE l.local_ts::time < l.shift_starts AND l.local_ts::time >= l.shift_ends END) AS outside_shift,
           (l.kiosk AND wh.facility_id IS NOT NULL AND h.facility_id IS NULL) AS outside_kiosk
      FROM located l
      LEFT JOIN with_hours wh ON l.kiosk AND wh.facility_id = l.facility_id
      -- windows of one weekday never overlap (opening_hours_no_overlap): at most one row matches
      LEFT JOIN opening_hours h ON l.kiosk AND h.facility_id = l.facility_id
                               AND h.weekday = extract(isodow FROM l.local_ts)::int
                               AND l.local_ts::time >= h.opens AND l.local_ts::time < h.closes),
hits AS (
    SELECT j.*, per.period_start
      FROM judged j CROSS JOIN LATERAL unnest(detection_periods(j.t, $2::timestamptz, 1)) AS per(period_start)
     WHERE (j.outside_shift OR j.outside_kiosk) AND per.period_start >= detection_bucket($1::timestamptz, 1))
SELECT h.region_id, 'officer', h.officer_id::text, h.period_start, array_agg(DISTINCT h.facility_id), count(*)::float8, max(h.t),
       jsonb_build_object('actions', jsonb_agg(jsonb_build_object('kind', h.kind, 'id', h.record_id,
                                                                  'local_time', to_char(h.local_ts, 'YYYY-MM-DD HH24:MI'),
                                                                  'outside_shift', h.outside_shift,
                                                                  'outside_kiosk_hours', h.outside_kiosk) ORDER BY h.t),
                          'count', count(*), 'shift', jsonb_build_array(min(h.shift_starts), min(h.shift_ends)),
                          'thresholds', jsonb_build_object('min_actions', min((prm.p->>'min_actions')::int)))
  FROM hits h JOIN prm ON prm.region_id = h.region_id
 GROUP BY h.region_id, h.officer_id, h.period_start
HAVING count(*) >= min((prm.p->>'min_actions')::int)
""")

# 17. Self-correction: cancelling one's own bookings on the facility's account (which credits the inmate),
# verifying contacts one registered, or correcting audit subjects one created.
SELF_CORRECTION = expand("""
WITH /*prm*/, /*bounds*/,
acts AS (
    SELECT b.facility_id, b.cancelled_by AS officer_id, 'self_cancellation' AS kind, b.booking_id AS record_id, b.cancelled_at AS t
      FROM bookings b
     WHERE b.cancelled_by = b.booked_by AND b.status = 'cancelled' AND b.cancel_reason IN ('facility', 'technical')
       AND b.cancelled_at >= (SELECT lo FROM bounds) AND b.cancelled_at < $2::timestamptz
    UNION ALL
    SELECT i.current_facility_id, k.verified_by, 'self_verification', k.id, k.verified_at
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
     WHERE k.verified_by = k.created_by AND k.verified_at >= (SELECT lo FROM bounds) AND k.verified_at < $2::timestamptz
    UNION ALL
    SELECT coalesce(CASE WHEN l.scope = 'facility' THEN l.scope_id END, u.scope_facility_id), u.id, 'self_audit_correction',
           e.seq, e.recorded_at
      FROM audit.entries e
      JOIN audit.logs l ON l.log_id = e.log_id
      JOIN users u ON e.actor_type = 'user' AND e.actor_id ~ '^[0-9]{1,18}$' AND u.id = e.actor_id::bigint
     WHERE e.recorded_at >= (SELECT lo FROM bounds) AND e.recorded_at < $2::timestamptz
       AND e.action IN (SELECT jsonb_array_elements_text($3::text::jsonb->'correction_actions'))
       AND EXISTS (SELECT 1 FROM audit.entries o
                    WHERE o.subject_type = e.subject_type AND o.subject_id = e.subject_id AND o.actor_id = e.actor_id
                      AND o.action NOT IN (SELECT jsonb_array_elements_text($3::text::jsonb->'correction_actions'))
                      AND o.recorded_at <= e.recorded_at)),
matched AS (
    SELECT prm.region_id, prm.p, a.*, per.period_start
      FROM acts a
      JOIN facilities f ON f.id = a.facility_id
      JOIN prm ON prm.region_id = f.region_id
     CROSS JOIN LATERAL unnest(detection_periods(a.t, $2::timestamptz, prm.wd)) AS per(period_start)
     WHERE per.period_start >= detection_bucket($1::timestamptz, prm.wd)
       AND ($5::bigint[] IS NULL OR a.officer_id = ANY($5::bigint[]))),
grp AS (
    SELECT region_id, officer_id, period_start, min(p::text)::jsonb AS p, array_agg(DISTINCT facility_id) AS facs,
           count(*) FILTER (WHERE kind = 'self_cancellation') AS cancellations,
           count(*) FILTER (WHERE kind = 'self_verification') AS verifications,
           count(*) FILTER (WHERE kind = 'self_audit_correction') AS corrections, max(t) AS last_at,
           array_agg(record_id ORDER BY t) FILTER (WHERE kind = 'self_cancellation') AS booking_ids,
           array_agg(record_id ORDER BY t) FILTER (WHERE kind = 'self_verification') AS contact_ids,
           array_agg(record_id ORDER BY t) FILTER (WHERE kind = 'self_audit_correction') AS audit_seqs
      FROM matched GROUP BY region_id, officer_id, period_start)
SELECT region_id, 'officer', officer_id::text, period_start, facs, (cancellations + verifications + corrections)::float8, last_at,
       jsonb_build_object('self_cancellations', cancellations, 'self_verifications', verifications,
                          'self_audit_corrections', corrections, 'booking_ids', booking_ids, 'contact_ids', contact_ids,
                          'audit_seqs', audit_seqs,
                          'thresholds', jsonb_build_object('min_self_cancellations', (p->>'min_self_cancellations')::int,
                                                           'min_self_verifications', (p->>'min_self_verifications')::int,
                                                           'min_self_corrections', (p->>'min_self_corrections')::int,
                                                           'window_days', (p->>'window_days')::int))
  FROM grp
 WHERE cancellations >= (p->>'min_self_cancellations')::int OR verifications >= (p->>'min_self_verifications')::int
    OR corrections >= (p->>'min_self_corrections')::int
""")

# 18. Every blocked attempt to change or delete audit data (recorded by the audit log as
# 'audit.tamper_blocked'), and every checkpoint a witness refused to cosign ('audit.witness_refused': the
# log's history is not what the witness saw): high severity, per actor (or log) and day.
AUDIT_TAMPER = expand("""
WITH /*prm*/,
bounds AS (SELECT least(detection_bucket($1::timestamptz, 1), $2::timestamptz - interval '1 day') AS lo),
ev AS (
    SELECT e.log_id, e.seq, e.recorded_at AS t, e.actor_type, e.actor_id, l.scope, l.scope_id,
           CASE WHEN l.scope = 'facility' THEN (SELECT region_id FROM facilities WHERE id = l.scope_id)
                WHEN l.scope = 'region' THEN l.scope_id END AS region_id,
           CASE WHEN l.scope = 'facility' THEN l.scope_id END AS facility_id
      FROM audit.entries e JOIN audit.logs l ON l.log_id = e.log_id
     WHERE e.action IN ('audit.tamper_blocked', 'audit.witness_refused')
       AND e.recorded_at >= (SELECT lo FROM bounds) AND e.recorded_at < $2::timestamptz),
subj AS (
    SELECT ev.*, per.period_start,
           CASE WHEN ev.actor_type = 'user' AND ev.actor_id ~ '^[0-9]{1,18}$' THEN 'officer'
                WHEN ev.scope = 'facility' THEN 'facility' ELSE 'region' END AS subject_type,
           CASE WHEN ev.actor_type = 'user' AND ev.actor_id ~ '^[0-9]{1,18}$' THEN ev.actor_id
                ELSE ev.scope_id::text END AS subject_key
      FROM ev CROSS JOIN LATERAL unnest(detection_periods(ev.t, $2::timestamptz, 1)) AS per(period_start)
     WHERE per.period_start >= detection_bucket($1::timestamptz, 1)
       AND (ev.region_id IS NULL OR ev.region_id IN (SELECT region_id FROM prm)))
SELECT region_id, subject_type, subject_key, period_start,
       coalesce(array_agg(DISTINCT facility_id) FILTER (WHERE facility_id IS NOT NULL), '{}'), count(*)::float8, max(t),
       jsonb_build_object('entries', jsonb_agg(jsonb_build_object('log_id', log_id, 'seq', seq, 'scope', scope,
                                                                  'scope_id', scope_id, 'recorded_at', t) ORDER BY t),
                          'count', count(*))
  FROM subj
 GROUP BY region_id, subject_type, subject_key, period_start
""")
