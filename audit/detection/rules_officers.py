"""Officer integrity rules (detection.md patterns 14-18): the WBK angle."""

from __future__ import annotations

from audit.detection.fragments import expand

# 14. Quota overrides, facility-side cancellations and listed audit actions per officer per week,
# against the facility's officers that week (modified z; at least min_peers officers to compare). Each
# action counts once: overrides and cancellations from the booking rows, audit actions only when their
# subject is not a booking (the service writes an audit entry for every booking, so "booking.override"
# read from the log would count every override twice). Complete weeks only: mid-week, an officer who
# works Monday is compared with peers who work Thursday, and the rescan would not agree.
OVERRIDE_RATE = expand("""
WITH /*prm*/,
bounds AS (SELECT detection_bucket(least($1::timestamptz, $2::timestamptz), 7) AS lo),
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
    -- the region's own list of audit actions (detection_rule_params), not the catalogue's
    SELECT a.facility_id, a.officer_id, a.action, a.seq, a.t
      FROM user_audit a
      JOIN facilities f ON f.id = a.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE prm.p->'audit_actions' ? a.action AND coalesce(a.subject_type, '') <> 'booking'),
-- Peers: every officer who booked or acted in the facility that week, including those with no override.
active AS (
    SELECT b.facility_id, b.booked_by AS officer_id, b.booked_at AS t
      FROM bookings b WHERE b.booked_at >= (SELECT lo FROM bounds) AND b.booked_at < $2::timestamptz
    UNION ALL
    SELECT facility_id, officer_id, t FROM acts),
weeks AS (
    SELECT DISTINCT a.facility_id, a.officer_id, detection_bucket(a.t, 7) AS wk FROM active a),
act_counts AS (
    SELECT a.facility_id, a.officer_id, detection_bucket(a.t, 7) AS wk, count(*) AS n,
           (array_agg(a.record_id ORDER BY a.t) FILTER (WHERE a.kind = 'override'))[1:50] AS override_booking_ids,
           (array_agg(a.record_id ORDER BY a.t) FILTER (WHERE a.kind = 'cancellation'))[1:50] AS cancelled_booking_ids,
           count(*) FILTER (WHERE a.kind NOT IN ('override', 'cancellation')) AS audit_actions, max(a.t) AS last_at
      FROM acts a
     GROUP BY a.facility_id, a.officer_id, detection_bucket(a.t, 7)),
counts AS (
    SELECT w.facility_id, w.officer_id, w.wk, coalesce(ac.n, 0) AS n, ac.override_booking_ids, ac.cancelled_booking_ids,
           coalesce(ac.audit_actions, 0) AS audit_actions, ac.last_at
      FROM weeks w LEFT JOIN act_counts ac USING (facility_id, officer_id, wk)
     WHERE w.wk + interval '7 days' <= $2::timestamptz),
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
                                                           'min_excess_sd', (p->>'min_excess_sd')::float8,
                                                           'max_p', (p->>'max_p')::float8,
                                                           'audit_actions', p->'audit_actions'),
                          'poisson_p', detection_poisson_sf(n::int, greatest(med, 1)))
  FROM scored
 WHERE z > (p->>'z_threshold')::float8
   -- Counts of a handful of officers are Poisson-noisy: also require a margin over the peers' median of
   -- min_excess_sd Poisson standard deviations, or six officers' ordinary weeks keep crossing z = 3.5,
   -- and a count that peers doing that median (at least one a week) would reach with probability at most
   -- max_p: five actions in a week where peers do one is a busy week (p = 0.004), twelve are not.
   AND n >= med + (p->>'min_excess_sd')::float8 * sqrt(greatest(med, 1))
   AND detection_poisson_sf(n::int, greatest(med, 1)) <= (p->>'max_p')::float8
""")

# 15. Favouritism: more than max_share (and at least min_overrides) of an officer's overrides in a window
# of window_days ending at one of them going to one inmate. The window slides over the overrides, so a
# pattern straddling two periods is seen, and a period's result depends only on overrides before its end.
FAVOURITISM = expand("""
WITH /*prm*/, /*slide_bounds*/,
ov AS (
    SELECT prm.region_id, prm.p, prm.wd, b.facility_id, b.booked_by AS officer_id, b.inmate_id, b.booking_id,
           b.booked_at AS t
      FROM bookings b
      JOIN facilities f ON f.id = b.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE b.is_override AND b.booked_by IS NOT NULL
       AND b.booked_at >= (SELECT lo FROM bounds) AND b.booked_at < $2::timestamptz
       AND ($5::bigint[] IS NULL OR b.booked_by = ANY($5::bigint[]))),
-- A window ends at each override of the periods evaluated: the officer's overrides in it, and those to
-- the same inmate (an inmate's share only grows at their own overrides, so those ends suffice).
win AS (
    SELECT a.region_id, a.p, a.wd, a.officer_id, a.inmate_id, a.booking_id AS end_id, a.t AS end_t,
           detection_bucket(a.t, a.wd) AS period_start, count(*) AS total,
           count(*) FILTER (WHERE b.inmate_id = a.inmate_id) AS n
      FROM ov a
      JOIN ov b ON b.officer_id = a.officer_id AND (b.t, b.booking_id) <= (a.t, a.booking_id)
               AND b.t > a.t - make_interval(days => a.wd)
     WHERE a.t >= detection_bucket($1::timestamptz, a.wd)
     GROUP BY a.region_id, a.p, a.wd, a.officer_id, a.inmate_id, a.booking_id, a.t),
fired AS (
    SELECT DISTINCT ON (region_id, officer_id, period_start) *
      FROM win
     WHERE n >= (p->>'min_overrides')::int AND n::float8 / total > (p->>'max_share')::float8
     ORDER BY region_id, officer_id, period_start, end_t DESC, end_id DESC)
SELECT fi.region_id, 'officer', fi.officer_id::text, fi.period_start, array_agg(DISTINCT o.facility_id),
       (fi.n::float8 / fi.total), fi.end_t,
       jsonb_build_object('inmate_id', fi.inmate_id, 'overrides_to_inmate', fi.n, 'overrides_total', fi.total,
                          'share', round(fi.n::numeric / fi.total, 3),
                          'booking_ids', array_agg(o.booking_id ORDER BY o.t, o.booking_id) FILTER (WHERE o.inmate_id = fi.inmate_id),
                          'window_end', fi.end_t,
                          'thresholds', jsonb_build_object('max_share', (fi.p->>'max_share')::float8,
                                                           'min_overrides', (fi.p->>'min_overrides')::int,
                                                           'window_days', (fi.p->>'window_days')::int))
  FROM fired fi
  JOIN ov o ON o.officer_id = fi.officer_id AND (o.t, o.booking_id) <= (fi.end_t, fi.end_id)
           AND o.t > fi.end_t - make_interval(days => fi.wd)
 GROUP BY fi.region_id, fi.officer_id, fi.period_start, fi.inmate_id, fi.n, fi.total, fi.end_t, fi.p
""")

# 16. Actions outside the officer's shift (any action) or outside kiosk hours (check-ins, ending calls),
# in the facility's own time zone. Each action counts once: audit entries about a booking, call or contact
# mirror the rows counted here. A check-in is judged at its slot's start: the service allows it from
# 30 minutes before the slot (schedules.calls.CHECK_IN_EARLY), so an officer checking an inmate in at 07:35
# for the 08:00 slot is doing what the service asks, not working out of hours.
# Shifts are also learned per facility: registered shifts go stale (a facility adds an afternoon session
# and nobody edits the officers' records), so an action outside the registered shift counts only when
# fewer than min_peer_officers other officers of the facility acted in that local hour in the 28 days
# before, that day or the next (bookings are made the day before the slot: the first bookings of a new
# afternoon session precede the day everyone works it). A day is judged once the next local day is over in
# every time zone (three UTC days after its start); the incremental job sweeps it then.
OUT_OF_HOURS = expand("""
WITH /*prm*/,
bounds AS (SELECT detection_bucket(least($1::timestamptz, $2::timestamptz), 1) - interval '31 days' AS lo),
/*user_audit*/,
acts AS (
    SELECT b.facility_id, b.booked_by AS officer_id, 'booked' AS kind, b.booking_id AS record_id, b.booked_at AS t,
           b.booked_at AS judged_at, false AS kiosk
      FROM bookings b WHERE b.booked_at >= (SELECT lo FROM bounds) AND b.booked_at < $2::timestamptz
    UNION ALL
    SELECT b.facility_id, b.cancelled_by, 'cancelled', b.booking_id, b.cancelled_at, b.cancelled_at, false
      FROM bookings b WHERE b.cancelled_by IS NOT NULL AND b.cancelled_at >= (SELECT lo FROM bounds) AND b.cancelled_at < $2::timestamptz
    UNION ALL
    SELECT b.facility_id, b.checked_in_by, 'checked_in', b.booking_id, b.checked_in_at,
           greatest(b.checked_in_at, lower(b.slot)), true
      FROM bookings b WHERE b.checked_in_by IS NOT NULL AND b.checked_in_at >= (SELECT lo FROM bounds) AND b.checked_in_at < $2::timestamptz
    UNION ALL
    -- ending a call is judged at the call's start: the last slot of the day ends at closing time
    SELECT c.facility_id, c.ended_by, 'ended_call', c.call_id, c.ended_at, c.started_at, true
      FROM calls c WHERE c.ended_by IS NOT NULL AND c.ended_at >= (SELECT lo FROM bounds) AND c.ended_at < $2::timestamptz
    UNION ALL
    SELECT i.current_facility_id, k.verified_by, 'verified_contact', k.id, k.verified_at, k.verified_at, false
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
     WHERE k.verified_by IS NOT NULL AND k.verified_at >= (SELECT lo FROM bounds) AND k.verified_at < $2::timestamptz
    UNION ALL
    SELECT a.facility_id, a.officer_id, 'audit:' || a.action, a.seq, a.t, a.t, false FROM user_audit a
     WHERE a.facility_id IS NOT NULL AND /*not_mirrored*/),
located AS (
    SELECT a.*, f.region_id, u.shift_starts, u.shift_ends, (a.t AT TIME ZONE f.time_zone) AS local_ts,
           (a.judged_at AT TIME ZONE f.time_zone) AS judged_ts
      FROM acts a
      JOIN facilities f ON f.id = a.facility_id
      JOIN users u ON u.id = a.officer_id
     WHERE u.role IN ('officer', 'security')),
with_hours AS (SELECT DISTINCT facility_id FROM opening_hours),
judged AS (
    SELECT l.*, detection_bucket(l.t, 1) AS period_start,
           (l.shift_starts IS NOT NULL AND l.shift_ends IS NOT NULL AND CASE
                WHEN l.shift_starts <= l.shift_ends THEN NOT (l.judged_ts::time >= l.shift_starts AND l.judged_ts::time < l.shift_ends)
                ELSE l.judged_ts::time < l.shift_starts AND l.judged_ts::time >= l.shift_ends END) AS outside_registered,
           (l.kiosk AND wh.facility_id IS NOT NULL AND h.facility_id IS NULL) AS outside_kiosk
      FROM located l
      LEFT JOIN with_hours wh ON l.kiosk AND wh.facility_id = l.facility_id
      -- windows of one weekday never overlap (opening_hours_no_overlap): at most one row matches
      LEFT JOIN opening_hours h ON l.kiosk AND h.facility_id = l.facility_id
                               AND h.weekday = extract(isodow FROM l.judged_ts)::int
                               AND l.judged_ts::time >= h.opens AND l.judged_ts::time < h.closes
     WHERE detection_bucket(l.t, 1) >= detection_bucket($1::timestamptz, 1) - interval '2 days'
       AND detection_bucket(l.t, 1) + interval '3 days' <= $2::timestamptz
       AND ($5::bigint[] IS NULL OR l.officer_id = ANY($5::bigint[]))),
-- Who acted in which local hour of which day, for the facilities of the candidates only.
hour_officers AS (
    SELECT DISTINCT l.facility_id, l.judged_ts::date AS d, extract(hour FROM l.judged_ts)::int AS hr, l.officer_id
      FROM located l
     WHERE l.facility_id IN (SELECT facility_id FROM judged WHERE outside_registered)),
cand_hours AS (
    SELECT DISTINCT facility_id, judged_ts::date AS d, extract(hour FROM judged_ts)::int AS hr, officer_id
      FROM judged WHERE outside_registered),
usual AS (
    SELECT c.facility_id, c.d, c.hr, c.officer_id, count(DISTINCT h.officer_id) AS peers
      FROM cand_hours c
      JOIN hour_officers h ON h.facility_id = c.facility_id AND h.hr = c.hr AND h.officer_id <> c.officer_id
                          AND h.d BETWEEN c.d - 28 AND c.d + 1
     GROUP BY c.facility_id, c.d, c.hr, c.officer_id),
hits AS (
    SELECT j.*, coalesce(us.peers, 0) AS peers_that_hour,
           j.outside_registered AND coalesce(us.peers, 0) < (prm.p->>'min_peer_officers')::int AS outside_shift
      FROM judged j
      JOIN prm ON prm.region_id = j.region_id
      LEFT JOIN usual us ON j.outside_registered AND us.facility_id = j.facility_id AND us.officer_id = j.officer_id
                        AND us.d = j.judged_ts::date AND us.hr = extract(hour FROM j.judged_ts)::int
     WHERE j.outside_kiosk
        OR (j.outside_registered AND coalesce(us.peers, 0) < (prm.p->>'min_peer_officers')::int))
SELECT h.region_id, 'officer', h.officer_id::text, h.period_start, array_agg(DISTINCT h.facility_id), count(*)::float8, max(h.t),
       jsonb_build_object('actions', jsonb_agg(jsonb_build_object('kind', h.kind, 'id', h.record_id,
                                                                  'local_time', to_char(h.local_ts, 'YYYY-MM-DD HH24:MI'),
                                                                  'outside_shift', h.outside_shift,
                                                                  'other_officers_that_hour', h.peers_that_hour,
                                                                  'outside_kiosk_hours', h.outside_kiosk)
                                              ORDER BY h.t, h.kind, h.record_id),
                          'count', count(*), 'shift', jsonb_build_array(min(h.shift_starts), min(h.shift_ends)),
                          'thresholds', jsonb_build_object('min_actions', min((prm.p->>'min_actions')::int),
                                                           'min_peer_officers', min((prm.p->>'min_peer_officers')::int)))
  FROM hits h JOIN prm ON prm.region_id = h.region_id
 GROUP BY h.region_id, h.officer_id, h.period_start
HAVING count(*) >= min((prm.p->>'min_actions')::int)
""")

# 17. Self-correction: cancelling one's own bookings on the facility's account (which credits the inmate),
# verifying contacts one registered, or correcting audit subjects one created. The window of window_days
# slides over the officer's acts (a window ending at each), so "3 in 30 days" straddling two periods is
# found by the rescan as by the live path; correction actions are the region's list, not the catalogue's.
SELF_CORRECTION = expand("""
WITH /*prm*/, /*slide_bounds*/,
-- An outage: a facility-day with at least outage_cancellations technical cancellations. Officers on duty
-- then cancel the day's bookings, their own among them, as the service asks; those are not corrections.
outage_days AS (
    SELECT b.facility_id, (lower(b.slot) AT TIME ZONE f.time_zone)::date AS d
      FROM bookings b
      JOIN facilities f ON f.id = b.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE b.status = 'cancelled' AND b.cancel_reason = 'technical'
       AND b.cancelled_at >= (SELECT lo FROM bounds) AND b.cancelled_at < $2::timestamptz
     GROUP BY b.facility_id, (lower(b.slot) AT TIME ZONE f.time_zone)::date
    HAVING count(*) >= min((prm.p->>'outage_cancellations')::int)),
acts AS (
    SELECT b.facility_id, b.cancelled_by AS officer_id, 'self_cancellation' AS kind, b.booking_id AS record_id, b.cancelled_at AS t
      FROM bookings b
      JOIN facilities f ON f.id = b.facility_id
     WHERE b.cancelled_by = b.booked_by AND b.status = 'cancelled' AND b.cancel_reason IN ('facility', 'technical')
       AND b.cancelled_at >= (SELECT lo FROM bounds) AND b.cancelled_at < $2::timestamptz
       AND NOT (b.cancel_reason = 'technical'
                AND (b.facility_id, (lower(b.slot) AT TIME ZONE f.time_zone)::date) IN (SELECT facility_id, d FROM outage_days))
    UNION ALL
    SELECT i.current_facility_id, k.verified_by, 'self_verification', k.id, k.verified_at
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
     WHERE k.verified_by = k.created_by AND k.verified_at >= (SELECT lo FROM bounds) AND k.verified_at < $2::timestamptz
    UNION ALL
    SELECT x.facility_id, x.officer_id, 'self_audit_correction', x.seq, x.t
      FROM (SELECT coalesce(CASE WHEN l.scope = 'facility' THEN l.scope_id END, u.scope_facility_id) AS facility_id,
                   u.id AS officer_id, e.seq, e.recorded_at AS t, e.action, e.subject_type, e.subject_id, e.actor_id
              FROM audit.entries e
              JOIN audit.logs l ON l.log_id = e.log_id
              JOIN users u ON e.actor_type = 'user' AND e.actor_id ~ '^[0-9]{1,18}$' AND u.id = e.actor_id::bigint
             WHERE e.recorded_at >= (SELECT lo FROM bounds) AND e.recorded_at < $2::timestamptz) x
      JOIN facilities f ON f.id = x.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE prm.p->'correction_actions' ? x.action
       AND EXISTS (SELECT 1 FROM audit.entries o
                    WHERE o.subject_type = x.subject_type AND o.subject_id = x.subject_id AND o.actor_id = x.actor_id
                      AND NOT (prm.p->'correction_actions' ? o.action) AND o.recorded_at <= x.t)),
ev AS (
    SELECT prm.region_id, prm.p, prm.wd, a.*
      FROM acts a
      JOIN facilities f ON f.id = a.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE ($5::bigint[] IS NULL OR a.officer_id = ANY($5::bigint[]))),
-- A window ends at each act of the periods evaluated: each kind's count in it.
win AS (
    SELECT a.region_id, a.p, a.wd, a.officer_id, a.kind AS end_kind, a.record_id AS end_id, a.t AS end_t,
           detection_bucket(a.t, a.wd) AS period_start,
           count(*) FILTER (WHERE b.kind = 'self_cancellation') AS cancellations,
           count(*) FILTER (WHERE b.kind = 'self_verification') AS verifications,
           count(*) FILTER (WHERE b.kind = 'self_audit_correction') AS corrections
      FROM ev a
      JOIN ev b ON b.officer_id = a.officer_id AND (b.t, b.kind, b.record_id) <= (a.t, a.kind, a.record_id)
               AND b.t > a.t - make_interval(days => a.wd)
     WHERE a.t >= detection_bucket($1::timestamptz, a.wd)
     GROUP BY a.region_id, a.p, a.wd, a.officer_id, a.kind, a.record_id, a.t),
fired AS (
    SELECT DISTINCT ON (region_id, officer_id, period_start) *
      FROM win
     WHERE cancellations >= (p->>'min_self_cancellations')::int OR verifications >= (p->>'min_self_verifications')::int
        OR corrections >= (p->>'min_self_corrections')::int
     ORDER BY region_id, officer_id, period_start, end_t DESC, end_kind DESC, end_id DESC),
grp AS (
    SELECT fi.region_id, fi.officer_id, fi.period_start, fi.p, fi.end_t, fi.cancellations, fi.verifications,
           fi.corrections, array_agg(DISTINCT e.facility_id) AS facs,
           array_agg(e.record_id ORDER BY e.t, e.record_id) FILTER (WHERE e.kind = 'self_cancellation') AS booking_ids,
           array_agg(e.record_id ORDER BY e.t, e.record_id) FILTER (WHERE e.kind = 'self_verification') AS contact_ids,
           array_agg(e.record_id ORDER BY e.t, e.record_id) FILTER (WHERE e.kind = 'self_audit_correction') AS audit_seqs
      FROM fired fi
      JOIN ev e ON e.officer_id = fi.officer_id AND (e.t, e.kind, e.record_id) <= (fi.end_t, fi.end_kind, fi.end_id)
               AND e.t > fi.end_t - make_interval(days => fi.wd)
     GROUP BY fi.region_id, fi.officer_id, fi.period_start, fi.p, fi.end_t, fi.cancellations, fi.verifications,
              fi.corrections)
SELECT region_id, 'officer', officer_id::text, period_start, facs, (cancellations + verifications + corrections)::float8, end_t,
       jsonb_build_object('self_cancellations', cancellations, 'self_verifications', verifications,
                          'self_audit_corrections', corrections, 'booking_ids', booking_ids, 'contact_ids', contact_ids,
                          'audit_seqs', audit_seqs, 'window_end', end_t,
                          'thresholds', jsonb_build_object('min_self_cancellations', (p->>'min_self_cancellations')::int,
                                                           'min_self_verifications', (p->>'min_self_verifications')::int,
                                                           'min_self_corrections', (p->>'min_self_corrections')::int,
                                                           'window_days', (p->>'window_days')::int,
                                                           'outage_cancellations', (p->>'outage_cancellations')::int,
                                                           'correction_actions', p->'correction_actions'))
  FROM grp
""")

# An officer's own cut-off rate against the facility's other officers: the calls they cut off among the
# calls they supervised over the history_weeks weeks ending with a complete week. A raw ratio of a few
# calls means nothing, so the rate is shrunk towards the peers' pooled rate (a beta prior worth
# prior_calls calls): (x + k m) / (n + k). Flagged when that estimate is at least min_ratio times the
# peers' rate and min_excess above it, with at least min_cut_offs cut-offs.
OFFICER_CUTOFF_RATE = expand("""
WITH /*prm*/,
span AS (
    SELECT detection_bucket(least($1::timestamptz, $2::timestamptz), 7) AS first_wk,
           max((p->>'history_weeks')::int) AS hw FROM prm),
bounds AS (SELECT first_wk - make_interval(days => 7 * (hw - 1)) AS lo FROM span),
weekly AS (
    SELECT c.facility_id, CASE WHEN c.outcome = 'cut_off' AND c.ended_by IS NOT NULL THEN c.ended_by
                               ELSE c.supervised_by END AS officer_id,
           detection_bucket(c.started_at, 7) AS wk, count(*) AS calls,
           count(*) FILTER (WHERE c.outcome = 'cut_off' AND c.ended_by IS NOT NULL) AS cut_offs
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND (c.supervised_by IS NOT NULL OR (c.outcome = 'cut_off' AND c.ended_by IS NOT NULL))
     GROUP BY 1, 2, 3),
-- Complete weeks evaluated, each with the history_weeks weeks ending with it.
ends AS (
    SELECT DISTINCT w.facility_id, w.officer_id, w.wk AS end_wk
      FROM weekly w
     WHERE w.wk >= (SELECT first_wk FROM span) AND w.wk + interval '7 days' <= $2::timestamptz),
mine AS (
    SELECT e.facility_id, e.officer_id, e.end_wk, sum(w.calls) AS n, sum(w.cut_offs) AS x
      FROM ends e
      JOIN facilities f ON f.id = e.facility_id
      JOIN prm ON prm.region_id = f.region_id
      JOIN weekly w ON w.facility_id = e.facility_id AND w.officer_id = e.officer_id AND w.wk <= e.end_wk
                   AND w.wk > e.end_wk - make_interval(days => 7 * (prm.p->>'history_weeks')::int)
     GROUP BY e.facility_id, e.officer_id, e.end_wk),
fac AS (
    SELECT facility_id, end_wk, sum(n) AS fn, sum(x) AS fx, count(*) AS officers FROM mine GROUP BY facility_id, end_wk),
scored AS (
    SELECT m.*, f.region_id, prm.p, fac.officers, fac.fn - m.n AS peer_calls, fac.fx - m.x AS peer_cut_offs,
           (fac.fx - m.x)::float8 / greatest(fac.fn - m.n, 1) AS peer_rate
      FROM mine m
      JOIN fac USING (facility_id, end_wk)
      JOIN facilities f ON f.id = m.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE m.x >= (prm.p->>'min_cut_offs')::int AND fac.fn - m.n >= (prm.p->>'min_peer_calls')::int
       AND ($5::bigint[] IS NULL OR m.officer_id = ANY($5::bigint[]))),
shrunk AS (
    SELECT s.*, (s.x + (s.p->>'prior_calls')::float8 * s.peer_rate) / (s.n + (s.p->>'prior_calls')::float8) AS est
      FROM scored s)
SELECT region_id, 'officer', officer_id::text, end_wk, ARRAY[facility_id], est, end_wk + interval '7 days',
       jsonb_build_object('week_start', end_wk, 'cut_offs', x, 'calls', n, 'raw_rate', round((x::float8 / greatest(n, 1))::numeric, 3),
                          'estimated_rate', round(est::numeric, 3), 'peer_rate', round(peer_rate::numeric, 4),
                          'peer_cut_offs', peer_cut_offs, 'peer_calls', peer_calls, 'peers', officers - 1,
                          'call_ids', (SELECT array_agg(c.call_id ORDER BY c.ended_at DESC) FROM (
                                SELECT c.call_id, c.ended_at FROM calls c
                                 WHERE c.ended_by = shrunk.officer_id AND c.outcome = 'cut_off'
                                   AND c.started_at < end_wk + interval '7 days'
                                   AND c.started_at >= end_wk + interval '7 days' - make_interval(days => 7 * (p->>'history_weeks')::int)
                                 ORDER BY c.ended_at DESC LIMIT 50) c),
                          'thresholds', jsonb_build_object('min_cut_offs', (p->>'min_cut_offs')::int,
                                                           'prior_calls', (p->>'prior_calls')::float8,
                                                           'min_ratio', (p->>'min_ratio')::float8,
                                                           'min_excess', (p->>'min_excess')::float8,
                                                           'min_peer_calls', (p->>'min_peer_calls')::int,
                                                           'history_weeks', (p->>'history_weeks')::int))
  FROM shrunk
 WHERE est >= (p->>'min_ratio')::float8 * peer_rate AND est >= peer_rate + (p->>'min_excess')::float8
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
