-- Compliance report queries, looked up by name (wartel/reports/queries.py).
-- Parameters: $1 facility ids, $2 first day, $3 last day (inclusive); facility_periods turns them into
-- instants in each facility's own time zone.

-- fragment: facility_periods
-- Each facility's [starts, ends) for the period $2..$3 (dates), in the facility's own time zone.
    SELECT f.id AS facility_id, f.time_zone,
           ($2::date)::timestamp AT TIME ZONE f.time_zone AS starts,
           ($3::date + 1)::timestamp AT TIME ZONE f.time_zone AS ends
      FROM facilities f
     WHERE f.id = ANY($1::bigint[])

-- fragment: stays
-- Every stay of every inmate that a facility of $1 held at some time: (inmate_id, facility_id, from_on,
-- until_on, later_from_on). Admission opens the first stay, each transfer closes one and opens the next,
-- release closes the last (until_on NULL while still held). from_on and until_on are days in the zone of the
-- stay's own facility, both inclusive: a transfer at 23:30 in Jakarta closes the Jakarta stay that day and
-- opens a Jayapura stay the next (01:30 there). later_from_on is the earliest such day of any later stay of
-- the inmate, wherever (NULL for the last): a stay holds him on day d if from_on <= d <= until_on, and is the
-- one holding him at the end of day d if, besides, no later stay has begun by d.
-- Inmates never moved (nearly all) are one stay each, straight from their row; only the moved go through
-- the window over their transfers. The first stay's facility is the first transfer's origin; the last
-- transfer's destination is the current facility, as wartel.registry.inmates.transfer_inmate leaves it.
-- Status 'transferred' (moved out of the registry's view, never set by the API) is left out, as before.
    WITH moved AS (
        SELECT DISTINCT t.inmate_id FROM inmate_transfers t
         WHERE t.from_facility_id = ANY($1::bigint[]) OR t.to_facility_id = ANY($1::bigint[])
    )
    SELECT i.id AS inmate_id, i.current_facility_id AS facility_id, i.admitted_on AS from_on,
           i.released_on AS until_on, NULL::date AS later_from_on
      FROM inmates i
     WHERE i.current_facility_id = ANY($1::bigint[]) AND i.status <> 'transferred'
       AND NOT EXISTS (SELECT 1 FROM inmate_transfers t WHERE t.inmate_id = i.id)
    UNION ALL
    SELECT d.inmate_id, d.facility_id, d.from_on, d.until_on,
           min(d.from_on) OVER (PARTITION BY d.inmate_id ORDER BY d.since, d.transfer_id NULLS FIRST
                                ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later_from_on
      FROM (
        SELECT o.inmate_id, o.facility_id, o.since, o.transfer_id,
               CASE WHEN o.transfer_id IS NULL THEN o.admitted_on
                    ELSE (o.since AT TIME ZONE f.time_zone)::date END AS from_on,
               CASE WHEN o.next_at IS NULL THEN o.released_on
                    ELSE (o.next_at AT TIME ZONE f.time_zone)::date END AS until_on
          FROM (
            SELECT e.inmate_id, e.since, e.transfer_id, e.admitted_on, e.released_on,
                   coalesce(e.to_facility_id, lead(e.from_facility_id) OVER w) AS facility_id,
                   lead(e.since) OVER w AS next_at
              FROM (
                SELECT i.id AS inmate_id, NULL::bigint AS to_facility_id, NULL::bigint AS from_facility_id,
                       '-infinity'::timestamptz AS since, NULL::bigint AS transfer_id, i.admitted_on, i.released_on
                  FROM moved m JOIN inmates i ON i.id = m.inmate_id
                 WHERE i.status <> 'transferred'
                UNION ALL
                SELECT t.inmate_id, t.to_facility_id, t.from_facility_id, t.transferred_at, t.id,
                       i.admitted_on, i.released_on
                  FROM moved m JOIN inmates i ON i.id = m.inmate_id JOIN inmate_transfers t ON t.inmate_id = i.id
                 WHERE i.status <> 'transferred'
              ) e
            WINDOW w AS (PARTITION BY e.inmate_id ORDER BY e.since, e.transfer_id NULLS FIRST)
          ) o
          JOIN facilities f ON f.id = o.facility_id
      ) d

-- name: calls
-- One pass over the period's calls; GROUPING SETS gives per-facility rows and the region row.
WITH facility_periods AS (
/*facility_periods*/
)
SELECT c.facility_id, grouping(c.facility_id) = 1 AS is_total,
       count(*) FILTER (WHERE c.outcome IN ('completed', 'time_limited')) AS calls_completed,
       count(DISTINCT c.inmate_id) FILTER (WHERE c.outcome IN ('completed', 'time_limited')) AS inmates_with_call,
       coalesce(sum(date_part('epoch', c.ended_at - c.started_at))
                FILTER (WHERE c.outcome IN ('completed', 'time_limited')), 0) AS completed_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', c.ended_at - c.started_at))
                FILTER (WHERE c.outcome IN ('completed', 'time_limited')) AS median_s,
       count(*) FILTER (WHERE c.outcome = 'cut_off') AS cut_offs,
       count(*) FILTER (WHERE c.outcome = 'technical_failure') AS technical_failures,
       count(*) FILTER (WHERE c.outcome = 'not_answered') AS not_answered,
       coalesce(sum(date_part('epoch', c.ended_at - c.started_at)), 0) AS booth_used_s
  FROM facility_periods fp
  JOIN calls c ON c.facility_id = fp.facility_id AND c.started_at >= fp.starts AND c.started_at < fp.ends
 WHERE c.ended_at IS NOT NULL
 GROUP BY GROUPING SETS ((c.facility_id), ());

-- name: bookings
-- No-shows, cancellations by reason and overrides per facility.
WITH facility_periods AS (
/*facility_periods*/
)
SELECT b.facility_id, b.status, b.cancel_reason, b.is_override, count(*) AS n
  FROM facility_periods fp
  JOIN bookings b ON b.facility_id = fp.facility_id
                 AND lower(b.slot) >= fp.starts AND lower(b.slot) < fp.ends
 WHERE b.status IN ('no_show', 'cancelled') OR b.is_override
 GROUP BY b.facility_id, b.status, b.cancel_reason, b.is_override;

-- name: inmates
-- Inmates each facility held on some day of the period (its own days), and those of them entitled: not under
-- a suspension of family calls for the whole of that facility's period. An inmate moved within the period
-- counts at every facility that held him; the region row counts each inmate once (entitled if entitled at
-- one of them). Two plain aggregates (per facility, then per inmate for the total) instead of count(DISTINCT)
-- over grouping sets, which sorted every held inmate and took half again as long.
WITH facility_periods AS (
/*facility_periods*/
), stays AS (
/*stays*/
), held AS MATERIALIZED (
    SELECT DISTINCT s.inmate_id, s.facility_id
      FROM stays s
     WHERE s.facility_id = ANY($1::bigint[])
       AND s.from_on <= $3::date AND (s.until_on IS NULL OR s.until_on >= $2::date)
), suspended AS (
    SELECT DISTINCT h.inmate_id, h.facility_id
      FROM sanctions s
      JOIN held h ON h.inmate_id = s.inmate_id
      JOIN facility_periods fp ON fp.facility_id = h.facility_id
     WHERE s.kind = 'suspend' AND s.during @> tstzrange(fp.starts, fp.ends)
       AND (s.lifted_at IS NULL OR s.lifted_at >= fp.ends)
), judged AS MATERIALIZED (
    SELECT h.inmate_id, h.facility_id, sp.inmate_id IS NULL AS entitled
      FROM held h LEFT JOIN suspended sp ON sp.inmate_id = h.inmate_id AND sp.facility_id = h.facility_id
)
SELECT j.facility_id, false AS is_total, count(*) AS active_inmates,
       count(*) FILTER (WHERE j.entitled) AS entitled_inmates
  FROM judged j
 GROUP BY j.facility_id
UNION ALL
SELECT NULL, true, count(*), count(*) FILTER (WHERE p.entitled)
  FROM (SELECT j.inmate_id, bool_or(j.entitled) AS entitled FROM judged j GROUP BY j.inmate_id) p;

-- name: booth_time
-- Open booth time: each day's windows in local time, less closures.
WITH facility_periods AS (
/*facility_periods*/
),
windows AS (
    SELECT fp.facility_id,
           tstzrange((d.day + oh.opens) AT TIME ZONE fp.time_zone, (d.day + oh.closes) AT TIME ZONE fp.time_zone) AS w
      FROM facility_periods fp
     CROSS JOIN LATERAL (SELECT g::date AS day FROM generate_series($2::date, $3::date, interval '1 day') g) d
      JOIN opening_hours oh ON oh.facility_id = fp.facility_id AND oh.weekday = extract(isodow FROM d.day)
),
open_time AS (
    SELECT w.facility_id,
           sum(date_part('epoch', upper(w.w) - lower(w.w))
               - coalesce((SELECT sum(date_part('epoch', upper(w.w * cl.during) - lower(w.w * cl.during)))
                             FROM closures cl WHERE cl.facility_id = w.facility_id AND cl.during && w.w), 0)
           )::float8 AS open_s
      FROM windows w
     GROUP BY w.facility_id
)
SELECT o.facility_id, o.open_s,
       (SELECT count(*) FROM booths b WHERE b.facility_id = o.facility_id AND b.in_service) AS booths
  FROM open_time o;

-- name: without_call
-- Inmates held at the end of the period with no completed call in its last $4 days. Each is listed once, by
-- the facility holding him at the end of the period's last day (its own day: see the stays fragment), and
-- judged by his last completed call anywhere, at whichever facility. An anti-join on the window's calls at the
-- scope's facilities drops most inmates first; the window common to every zone of the scope keeps that
-- pruning safe, and the last call is then looked up only for those left (the cost follows the window).
-- A period that has not ended yet (the current month) is measured up to the end of today in each facility's
-- zone, not to its last day: a call today is 0 days ago, as on the dashboard, never "27 days" before the
-- month's end, and whoever is held today is the one listed.
WITH facility_periods AS (
/*facility_periods*/
), measured AS (
    SELECT fp.facility_id, fp.time_zone, m.last_on, (m.last_on + 1)::timestamp AT TIME ZONE fp.time_zone AS ends
      FROM facility_periods fp
     CROSS JOIN LATERAL (SELECT least($3::date, (now() AT TIME ZONE fp.time_zone)::date) AS last_on) m
), stays AS (
/*stays*/
), at_end AS (
    SELECT s.inmate_id, s.facility_id
      FROM stays s
      JOIN measured m ON m.facility_id = s.facility_id
     WHERE s.from_on <= m.last_on AND (s.until_on IS NULL OR s.until_on >= m.last_on)
       AND (s.later_from_on IS NULL OR s.later_from_on > m.last_on)
), bounds AS (
    SELECT max(ends) - make_interval(days => $4) AS starts, min(ends) AS ends FROM measured
), recent AS (
    SELECT DISTINCT c.inmate_id
      FROM measured fp
     CROSS JOIN bounds b
      JOIN calls c ON c.facility_id = fp.facility_id AND c.started_at >= b.starts AND c.started_at < b.ends
     WHERE c.outcome IN ('completed', 'time_limited')
), candidates AS MATERIALIZED (
    SELECT i.id, i.registration_no, i.full_name, e.facility_id, i.admitted_on, fp.ends, fp.time_zone
      FROM at_end e
      JOIN measured fp ON fp.facility_id = e.facility_id
      JOIN inmates i ON i.id = e.inmate_id
     WHERE NOT EXISTS (SELECT 1 FROM recent r WHERE r.inmate_id = e.inmate_id)
)
SELECT k.id AS inmate_id, k.registration_no, k.full_name, k.facility_id,
       f.code AS facility_code, last.at AS last_call_at,
       floor(date_part('epoch', k.ends - coalesce(last.at, k.admitted_on::timestamp AT TIME ZONE k.time_zone))
             / 86400)::int AS days_without_call
  FROM candidates k
  JOIN facilities f ON f.id = k.facility_id
  LEFT JOIN LATERAL (
        SELECT c.started_at AS at FROM calls c
         WHERE c.inmate_id = k.id AND c.started_at < k.ends AND c.outcome IN ('completed', 'time_limited')
         ORDER BY c.started_at DESC LIMIT 1
  ) last ON true
 WHERE coalesce(last.at, k.admitted_on::timestamp AT TIME ZONE k.time_zone) < k.ends - make_interval(days => $4)
 ORDER BY f.code, days_without_call DESC, k.registration_no;

-- name: cut_offs_by_officer
-- Officer cut-offs per officer.
WITH facility_periods AS (
/*facility_periods*/
)
SELECT c.facility_id, f.code AS facility_code, u.id AS user_id, u.username, u.full_name, count(*) AS count
  FROM facility_periods fp
  JOIN calls c ON c.facility_id = fp.facility_id AND c.started_at >= fp.starts AND c.started_at < fp.ends
  JOIN facilities f ON f.id = c.facility_id
  JOIN users u ON u.id = c.ended_by
 WHERE c.outcome = 'cut_off'
 GROUP BY c.facility_id, f.code, u.id
 ORDER BY count DESC, f.code, u.username;

-- name: overrides_by_officer
-- Quota overrides per officer.
WITH facility_periods AS (
/*facility_periods*/
)
SELECT b.facility_id, f.code AS facility_code, u.id AS user_id, u.username, u.full_name, count(*) AS count
  FROM facility_periods fp
  JOIN bookings b ON b.facility_id = fp.facility_id AND lower(b.slot) >= fp.starts AND lower(b.slot) < fp.ends
  JOIN facilities f ON f.id = b.facility_id
  JOIN users u ON u.id = b.booked_by
 WHERE b.is_override
 GROUP BY b.facility_id, f.code, u.id
 ORDER BY count DESC, f.code, u.username;

-- name: flags_by_facility
-- Flags touching each facility: raised and reviewed in its period, median time to review, open backlog.
WITH facility_periods AS (
/*facility_periods*/
)
SELECT fp.facility_id,
       count(*) FILTER (WHERE d.first_seen_at >= fp.starts AND d.first_seen_at < fp.ends) AS raised,
       count(*) FILTER (WHERE d.reviewed_at >= fp.starts AND d.reviewed_at < fp.ends) AS reviewed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', d.reviewed_at - d.first_seen_at) / 3600)
           FILTER (WHERE d.reviewed_at >= fp.starts AND d.reviewed_at < fp.ends) AS median_review_hours,
       count(*) FILTER (WHERE d.first_seen_at < fp.ends
                          AND (d.reviewed_at IS NULL OR d.reviewed_at >= fp.ends)) AS open_backlog
  FROM facility_periods fp
  JOIN detection_flags d ON d.facility_ids @> ARRAY[fp.facility_id]
 WHERE d.first_seen_at < fp.ends
 GROUP BY fp.facility_id;

-- name: flags_totals
-- The same over every flag of the scope, each counted once: $4 region id (NULL for a facility report).
WITH facility_periods AS (
/*facility_periods*/
), bounds AS (
    SELECT min(starts) AS starts, max(ends) AS ends FROM facility_periods
), scoped AS (
    SELECT d.* FROM detection_flags d, bounds b
     WHERE d.first_seen_at < b.ends
       AND (d.region_id = $4::bigint OR d.facility_ids && $1::bigint[])
)
SELECT count(*) FILTER (WHERE s.first_seen_at >= b.starts) AS raised,
       count(*) FILTER (WHERE s.reviewed_at >= b.starts AND s.reviewed_at < b.ends) AS reviewed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', s.reviewed_at - s.first_seen_at) / 3600)
           FILTER (WHERE s.reviewed_at >= b.starts AND s.reviewed_at < b.ends) AS median_review_hours,
       count(*) FILTER (WHERE s.reviewed_at IS NULL OR s.reviewed_at >= b.ends) AS open_backlog
  FROM scoped s, bounds b;

-- name: flags_by_rule
-- Flags raised in the period by rule, and how their review ended so far.
WITH facility_periods AS (
/*facility_periods*/
), bounds AS (
    SELECT min(starts) AS starts, max(ends) AS ends FROM facility_periods
)
SELECT d.rule_id AS rule, count(*) AS raised,
       count(*) FILTER (WHERE d.status = 'confirmed') AS confirmed,
       count(*) FILTER (WHERE d.status = 'dismissed') AS dismissed
  FROM detection_flags d, bounds b
 WHERE d.first_seen_at >= b.starts AND d.first_seen_at < b.ends
   AND (d.region_id = $4::bigint OR d.facility_ids && $1::bigint[])
 GROUP BY d.rule_id
 ORDER BY raised DESC, d.rule_id;
