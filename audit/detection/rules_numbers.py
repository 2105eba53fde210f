"""Rules whose subject is an outside number or number prefix (detection.md patterns 1, 2, 4, 5, 6, 8, 11, 13)."""

from __future__ import annotations

from audit.detection.fragments import expand

# 1. One number called by >= min_inmates distinct inmates of a region in a window of window_days ending at
# one of the calls. Inmates who hold the number as verified core family count as one household (up to
# household_max of them). The window slides over the calls, so a ring straddling two periods is found by a
# rescan exactly as by the live path; the flag is keyed by the period of the call that completed it.
SHARED_NUMBER = expand("""
WITH /*prm*/, /*counsel*/, /*family*/, /*slide_bounds*/,
-- A number needs min_inmates callers in one window, so it needs them over the whole range first: the
-- distinct (number, inmate) pairs are few (families are stable), and only hot numbers are read again.
pairs AS (
    SELECT c.dialled_e164 AS num, c.inmate_id
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.inmate_id IS NOT NULL AND c.dialled_e164 IS NOT NULL
       AND ($6::text[] IS NULL OR c.dialled_e164 = ANY($6::text[]))
     GROUP BY c.dialled_e164, c.inmate_id),
hot AS (
    SELECT num FROM pairs GROUP BY num HAVING count(*) >= (SELECT min((p->>'min_inmates')::int) FROM prm)),
ev AS MATERIALIZED (
    SELECT prm.region_id, prm.p, prm.wd, c.facility_id, c.inmate_id, c.dialled_e164 AS num, c.call_id,
           c.started_at AS t
      FROM calls c
      JOIN facilities f ON f.id = c.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.inmate_id IS NOT NULL AND c.dialled_e164 IN (SELECT num FROM hot)
       AND c.dialled_e164 NOT IN (SELECT num FROM counsel)),
-- Each call makes its inmate a caller of the number for the windows ending in [t, t + W), until that
-- inmate's next call to it takes over: disjoint intervals per (number, inmate), counted by a sweep.
cover AS (
    SELECT e.*, least(e.t + make_interval(days => e.wd),
                      lead(e.t) OVER (PARTITION BY e.region_id, e.num, e.inmate_id ORDER BY e.t, e.call_id)) AS t_end,
           EXISTS (SELECT 1 FROM family fam WHERE fam.num = e.num AND fam.inmate_id = e.inmate_id) AS household
      FROM ev e),
steps AS (
    SELECT region_id, num, t AS at, 1 AS d, household, call_id FROM cover
    UNION ALL
    SELECT region_id, num, t_end, -1, household, call_id FROM cover WHERE t_end < $2::timestamptz),
running AS (
    -- at one instant an interval ending leaves before one starting enters (windows are half-open)
    SELECT s.*, coalesce(sum(d) FILTER (WHERE NOT household) OVER w, 0) AS others,
           coalesce(sum(d) FILTER (WHERE household) OVER w, 0) AS hh
      FROM steps s WINDOW w AS (PARTITION BY region_id, num ORDER BY at, d, call_id ROWS UNBOUNDED PRECEDING)),
fired AS (
    SELECT DISTINCT ON (x.region_id, x.num, x.period_start) x.*
      FROM (SELECT r.*, prm.p, prm.wd, detection_bucket(r.at, prm.wd) AS period_start,
                   r.others + CASE WHEN r.hh <= (prm.p->>'household_max')::int THEN least(r.hh, 1) ELSE r.hh END
                   AS effective
              FROM running r JOIN prm ON prm.region_id = r.region_id
             WHERE r.d = 1 AND r.at >= detection_bucket($1::timestamptz, prm.wd)) x
     WHERE x.effective >= (x.p->>'min_inmates')::int
     ORDER BY x.region_id, x.num, x.period_start, x.at DESC, x.call_id DESC),
-- The calls of the window that completed the ring last in the period, per inmate (ten latest call ids).
per_inmate AS (
    SELECT fi.region_id, fi.num, fi.period_start, e.inmate_id, min(e.facility_id) AS facility_id, count(*) AS n,
           (array_agg(e.call_id ORDER BY e.t DESC, e.call_id DESC))[1:10] AS call_ids, max(e.t) AS last_at
      FROM fired fi
      JOIN ev e ON e.num = fi.num AND e.region_id = fi.region_id AND e.t <= fi.at
               AND e.t > fi.at - make_interval(days => fi.wd)
     GROUP BY fi.region_id, fi.num, fi.period_start, e.inmate_id),
grp AS (
    SELECT pi.region_id, pi.num, pi.period_start, count(*) AS inmates,
           count(*) FILTER (WHERE fam.inmate_id IS NOT NULL) AS household,
           sum(pi.n) AS calls, max(pi.last_at) AS last_at, array_agg(DISTINCT pi.facility_id) AS facs,
           jsonb_agg(jsonb_build_object('inmate_id', pi.inmate_id, 'facility_id', pi.facility_id, 'calls', pi.n,
                                        'call_ids', pi.call_ids, 'household', fam.inmate_id IS NOT NULL)
                     ORDER BY pi.n DESC, pi.inmate_id) AS inmates_detail
      FROM per_inmate pi
      LEFT JOIN family fam ON fam.num = pi.num AND fam.inmate_id = pi.inmate_id
     GROUP BY pi.region_id, pi.num, pi.period_start)
SELECT g.region_id, 'number' AS subject_type, g.num AS subject_key, g.period_start, g.facs AS facility_ids,
       fi.effective::float8 AS metric, g.last_at AS last_event_at,
       jsonb_build_object('distinct_inmates', g.inmates, 'effective_inmates', fi.effective, 'household_inmates', g.household,
                          'calls', g.calls, 'facilities', g.facs, 'inmates', g.inmates_detail, 'window_end', fi.at,
                          'thresholds', jsonb_build_object('min_inmates', (fi.p->>'min_inmates')::int,
                                                           'window_days', (fi.p->>'window_days')::int,
                                                           'household_max', (fi.p->>'household_max')::int)) AS evidence
  FROM grp g JOIN fired fi USING (region_id, num, period_start)
""")

# 2. A number on several inmates' active contact lists. Each bucket with a new registration is checked
# against every active registration of the number made before the bucket ends (not only recent ones).
SHARED_REGISTRATION = expand("""
WITH /*prm*/, /*counsel*/,
regs AS (
    SELECT prm.region_id, i.current_facility_id AS facility_id, k.inmate_id, k.phone_e164 AS num, k.id AS contact_id,
           k.created_at, k.relation IN ('spouse', 'parent', 'child', 'sibling', 'guardian') AS core_family,
           (prm.p->>'period_days')::int AS pd
      FROM contacts k
      JOIN inmates i ON i.id = k.inmate_id
      JOIN facilities f ON f.id = i.current_facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE k.status IN ('pending', 'verified') AND NOT k.is_legal_counsel AND k.created_at < $2::timestamptz
       AND ($6::text[] IS NULL OR k.phone_e164 = ANY($6::text[]))
       AND k.phone_e164 NOT IN (SELECT num FROM counsel)),
trig AS (
    SELECT DISTINCT region_id, num, detection_bucket(created_at, pd) AS period_start, pd
      FROM regs WHERE created_at >= detection_bucket($1::timestamptz, pd)),
members AS (
    SELECT t.region_id, t.num, t.period_start, r.inmate_id, r.facility_id, r.contact_id, r.created_at, r.core_family
      FROM trig t
      JOIN regs r ON r.region_id = t.region_id AND r.num = t.num
                 AND r.created_at < least(t.period_start + make_interval(days => t.pd), $2::timestamptz)),
grp AS (
    SELECT region_id, num, period_start, count(DISTINCT inmate_id) AS inmates,
           count(DISTINCT inmate_id) FILTER (WHERE core_family) AS household,
           max(created_at) AS last_at, array_agg(DISTINCT facility_id) AS facs,
           jsonb_agg(jsonb_build_object('contact_id', contact_id, 'inmate_id', inmate_id, 'facility_id', facility_id,
                                        'core_family', core_family) ORDER BY created_at) AS registrations
      FROM members GROUP BY region_id, num, period_start),
scored AS (
    SELECT g.*, prm.p,
           (g.inmates - g.household)
           + CASE WHEN g.household <= (prm.p->>'household_max')::int THEN least(g.household, 1) ELSE g.household END
           AS effective
      FROM grp g JOIN prm ON prm.region_id = g.region_id)
SELECT region_id, 'number', num, period_start, facs, effective::float8, last_at,
       jsonb_build_object('distinct_inmates', inmates, 'effective_inmates', effective, 'household_inmates', household,
                          'registrations', registrations, 'facilities', facs,
                          'thresholds', jsonb_build_object('min_inmates', (p->>'min_inmates')::int,
                                                           'household_max', (p->>'household_max')::int))
  FROM scored
 WHERE effective >= (p->>'min_inmates')::int
""")

# 4. A number called or registered by an inmate that an inmate released in the last released_days called
# or registered. The caller's own verified core family is not a link (brothers share a mother).
RELEASED_LINK = expand("""
WITH /*prm*/, /*counsel*/, /*family*/, /*bounds*/,
released AS (
    SELECT r.id AS released_id, r.released_on
      FROM inmates r
     WHERE r.status = 'released'
       AND r.released_on >= ((SELECT lo FROM bounds) - interval '1 day' * (SELECT max((p->>'released_days')::int) FROM prm))::date),
released_nums AS (
    SELECT DISTINCT r.released_id, r.released_on, x.num
      FROM released r
     CROSS JOIN LATERAL (
           SELECT k.phone_e164 AS num FROM contacts k WHERE k.inmate_id = r.released_id AND k.status <> 'rejected'
           UNION
           SELECT c.dialled_e164 FROM calls c WHERE c.inmate_id = r.released_id AND c.dialled_e164 IS NOT NULL) x
     WHERE x.num NOT IN (SELECT num FROM counsel)
       AND ($6::text[] IS NULL OR x.num = ANY($6::text[]))),
ev AS (
    SELECT c.facility_id, c.inmate_id, c.dialled_e164 AS num, 'call' AS kind, c.call_id AS record_id, c.started_at AS t
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz AND c.inmate_id IS NOT NULL
       AND c.dialled_e164 IN (SELECT num FROM released_nums)
    UNION ALL
    SELECT i.current_facility_id, k.inmate_id, k.phone_e164, 'registration', k.id, k.created_at
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
     WHERE k.created_at >= (SELECT lo FROM bounds) AND k.created_at < $2::timestamptz
       AND k.status IN ('pending', 'verified') AND k.phone_e164 IN (SELECT num FROM released_nums)),
matched AS (
    SELECT prm.region_id, ev.*, rn.released_id, rn.released_on, per.period_start
      FROM ev
      JOIN released_nums rn ON rn.num = ev.num AND rn.released_id <> ev.inmate_id
      JOIN facilities f ON f.id = ev.facility_id
      JOIN prm ON prm.region_id = f.region_id
     CROSS JOIN LATERAL unnest(detection_periods(ev.t, $2::timestamptz, prm.wd)) AS per(period_start)
     WHERE ev.t::date >= rn.released_on AND ev.t::date <= rn.released_on + (prm.p->>'released_days')::int
       AND per.period_start >= detection_bucket($1::timestamptz, prm.wd)
       AND NOT EXISTS (SELECT 1 FROM family fam WHERE fam.num = ev.num AND fam.inmate_id = ev.inmate_id))
SELECT m.region_id, 'number', m.num, m.period_start, array_agg(DISTINCT m.facility_id), count(*)::float8, max(m.t),
       jsonb_build_object('released_inmates', jsonb_agg(DISTINCT jsonb_build_object('inmate_id', m.released_id,
                                                                                  'released_on', m.released_on)),
                          'inmates', array_agg(DISTINCT m.inmate_id),
                          'call_ids', (array_agg(m.record_id ORDER BY m.t DESC) FILTER (WHERE m.kind = 'call'))[1:20],
                          'contact_ids', array_agg(DISTINCT m.record_id) FILTER (WHERE m.kind = 'registration'),
                          'count', count(*),
                          'thresholds', jsonb_build_object('released_days', min((p->>'released_days')::int)))
  FROM matched m JOIN prm ON prm.region_id = m.region_id
 GROUP BY m.region_id, m.num, m.period_start
""")

# 5. Calls to, or registrations of, a number on the watchlist (watched or blocked) in the record's scope.
WATCHED_NUMBER = expand("""
WITH /*prm*/, /*bounds*/,
entries AS (SELECT id, scope, scope_id, pattern_kind, pattern, mode FROM watchlist WHERE removed_at IS NULL),
-- Every active pattern as one LIKE list: a cheap first test on every call (E.164 holds no wildcards).
patterns AS (
    SELECT coalesce(array_agg(CASE WHEN pattern_kind = 'prefix' THEN pattern || '%' ELSE pattern END), '{}') AS likes
      FROM entries),
ev AS (
    SELECT c.facility_id, c.inmate_id, c.dialled_e164 AS num, 'call' AS kind, c.call_id AS record_id, c.started_at AS t
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz AND c.dialled_e164 IS NOT NULL
       AND c.dialled_e164 LIKE ANY((SELECT likes FROM patterns)::text[])
       AND ($6::text[] IS NULL OR c.dialled_e164 = ANY($6::text[]))
    UNION ALL
    SELECT i.current_facility_id, k.inmate_id, k.phone_e164, 'registration', k.id, k.created_at
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
     WHERE k.created_at >= (SELECT lo FROM bounds) AND k.created_at < $2::timestamptz
       AND ($6::text[] IS NULL OR k.phone_e164 = ANY($6::text[]))),
matched AS (
    SELECT prm.region_id, ev.*, e.id AS entry_id, e.mode, per.period_start
      FROM ev
      JOIN facilities f ON f.id = ev.facility_id
      JOIN prm ON prm.region_id = f.region_id
      JOIN entries e ON watchlist_scope_covers(e.scope, e.scope_id, ev.facility_id, f.region_id)
                    AND watchlist_pattern_matches(e.pattern_kind, e.pattern, ev.num)
     CROSS JOIN LATERAL unnest(detection_periods(ev.t, $2::timestamptz, prm.wd)) AS per(period_start)
     WHERE per.period_start >= detection_bucket($1::timestamptz, prm.wd))
SELECT region_id, 'number', num, period_start, array_agg(DISTINCT facility_id), count(DISTINCT (kind, record_id))::float8,
       max(t),
       jsonb_build_object('watchlist_entry_ids', array_agg(DISTINCT entry_id), 'modes', array_agg(DISTINCT mode),
                          'call_ids', (array_agg(DISTINCT record_id) FILTER (WHERE kind = 'call'))[1:50],
                          'contact_ids', array_agg(DISTINCT record_id) FILTER (WHERE kind = 'registration'),
                          'inmates', array_agg(DISTINCT inmate_id),
                          'count', count(DISTINCT (kind, record_id)))
  FROM matched
 GROUP BY region_id, num, period_start
""")

# 6. Calls to, or registrations of, a staff member's own number. The subject is the staff member.
STAFF_NUMBER = expand("""
WITH /*prm*/, /*bounds*/,
staff AS (SELECT id AS user_id, phone_e164 AS num FROM users WHERE phone_e164 IS NOT NULL),
ev AS (
    SELECT c.facility_id, c.inmate_id, c.dialled_e164 AS num, 'call' AS kind, c.call_id AS record_id, c.started_at AS t
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.dialled_e164 IN (SELECT num FROM staff)
       AND ($6::text[] IS NULL OR c.dialled_e164 = ANY($6::text[]))
    UNION ALL
    SELECT i.current_facility_id, k.inmate_id, k.phone_e164, 'registration', k.id, k.created_at
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
     WHERE k.created_at >= (SELECT lo FROM bounds) AND k.created_at < $2::timestamptz
       AND k.phone_e164 IN (SELECT num FROM staff)
       AND ($6::text[] IS NULL OR k.phone_e164 = ANY($6::text[]))),
matched AS (
    SELECT prm.region_id, s.user_id, ev.*, per.period_start
      FROM ev
      JOIN staff s ON s.num = ev.num
      JOIN facilities f ON f.id = ev.facility_id
      JOIN prm ON prm.region_id = f.region_id
     CROSS JOIN LATERAL unnest(detection_periods(ev.t, $2::timestamptz, prm.wd)) AS per(period_start)
     WHERE per.period_start >= detection_bucket($1::timestamptz, prm.wd))
SELECT region_id, 'officer', user_id::text, period_start, array_agg(DISTINCT facility_id), count(*)::float8, max(t),
       jsonb_build_object('staff_user_id', user_id, 'inmates', array_agg(DISTINCT inmate_id),
                          'call_ids', (array_agg(record_id ORDER BY t DESC) FILTER (WHERE kind = 'call'))[1:50],
                          'contact_ids', array_agg(DISTINCT record_id) FILTER (WHERE kind = 'registration'),
                          'calls', count(*) FILTER (WHERE kind = 'call'))
  FROM matched
 GROUP BY region_id, user_id, period_start
""")

# 8. Prefix hopping: at least min_inmates inmates calling at least min_numbers numbers of one range (number
# minus its last drop_digits digits) in a window of window_days ending at one of the calls (sliding, as
# shared_number).
PREFIX_HOPPING = expand("""
WITH /*prm*/, /*counsel*/, /*family*/, /*slide_bounds*/,
-- Ranges reached by enough inmates and numbers over the whole range; only those are read again. The
-- shortest prefix any region uses is a superset of every region's own.
pairs AS (
    SELECT c.dialled_e164 AS num, c.inmate_id
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.inmate_id IS NOT NULL AND c.dialled_e164 IS NOT NULL
     GROUP BY c.dialled_e164, c.inmate_id),
hot AS (
    SELECT left(num, length(num) - (SELECT max((p->>'drop_digits')::int) FROM prm)) AS prefix
      FROM pairs GROUP BY 1
    HAVING count(DISTINCT inmate_id) >= (SELECT min((p->>'min_inmates')::int) FROM prm)
       AND count(DISTINCT num) >= (SELECT min((p->>'min_numbers')::int) FROM prm)),
ev AS MATERIALIZED (
    SELECT prm.region_id, prm.wd, c.facility_id, c.inmate_id, c.dialled_e164 AS num, c.call_id, c.started_at AS t,
           left(c.dialled_e164, length(c.dialled_e164) - (prm.p->>'drop_digits')::int) AS prefix
      FROM calls c
      JOIN facilities f ON f.id = c.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.inmate_id IS NOT NULL AND c.dialled_e164 IS NOT NULL
       AND left(c.dialled_e164, length(c.dialled_e164) - (SELECT max((p->>'drop_digits')::int) FROM prm))
           IN (SELECT prefix FROM hot)
       AND c.dialled_e164 NOT IN (SELECT num FROM counsel)
       AND ($6::text[] IS NULL OR left(c.dialled_e164, length(c.dialled_e164) - (prm.p->>'drop_digits')::int)
                                  IN (SELECT left(x, length(x) - (prm.p->>'drop_digits')::int) FROM unnest($6::text[]) x))
       AND NOT EXISTS (SELECT 1 FROM family fam WHERE fam.num = c.dialled_e164 AND fam.inmate_id = c.inmate_id)),
-- Coverage intervals as in shared_number, once per (range, inmate) and once per (range, number).
cover AS (
    SELECT e.*,
           least(e.t + make_interval(days => e.wd),
                 lead(e.t) OVER (PARTITION BY e.region_id, e.prefix, e.inmate_id ORDER BY e.t, e.call_id)) AS inmate_end,
           least(e.t + make_interval(days => e.wd),
                 lead(e.t) OVER (PARTITION BY e.region_id, e.prefix, e.num ORDER BY e.t, e.call_id)) AS num_end
      FROM ev e),
steps AS (
    SELECT region_id, prefix, t AS at, 1 AS d_i, 1 AS d_n, call_id FROM cover
    UNION ALL
    SELECT region_id, prefix, inmate_end, -1, 0, call_id FROM cover WHERE inmate_end < $2::timestamptz
    UNION ALL
    SELECT region_id, prefix, num_end, 0, -1, call_id FROM cover WHERE num_end < $2::timestamptz),
running AS (
    SELECT s.*, sum(d_i) OVER w AS inmates, sum(d_n) OVER w AS numbers
      FROM steps s WINDOW w AS (PARTITION BY region_id, prefix ORDER BY at, d_i + d_n, call_id ROWS UNBOUNDED PRECEDING)),
fired AS (
    SELECT DISTINCT ON (r.region_id, r.prefix, detection_bucket(r.at, prm.wd))
           r.region_id, r.prefix, r.at, r.call_id, prm.p, prm.wd, detection_bucket(r.at, prm.wd) AS period_start
      FROM running r JOIN prm ON prm.region_id = r.region_id
     WHERE r.d_i = 1 AND r.d_n = 1 AND r.at >= detection_bucket($1::timestamptz, prm.wd)
       AND r.inmates >= (prm.p->>'min_inmates')::int AND r.numbers >= (prm.p->>'min_numbers')::int
     ORDER BY r.region_id, r.prefix, detection_bucket(r.at, prm.wd), r.at DESC, r.call_id DESC),
grp AS (
    SELECT fi.region_id, fi.prefix, fi.period_start, fi.at AS window_end, min(fi.p::text)::jsonb AS p,
           count(DISTINCT e.inmate_id) AS inmates, count(DISTINCT e.num) AS numbers,
           count(*) AS calls, max(e.t) AS last_at, array_agg(DISTINCT e.facility_id) AS facs,
           array_agg(DISTINCT e.inmate_id) AS inmate_ids,
           (array_agg(e.call_id ORDER BY e.t DESC, e.call_id DESC))[1:50] AS call_ids
      FROM fired fi
      JOIN ev e ON e.region_id = fi.region_id AND e.prefix = fi.prefix AND e.t <= fi.at
               AND e.t > fi.at - make_interval(days => fi.wd)
     GROUP BY fi.region_id, fi.prefix, fi.period_start, fi.at)
SELECT g.region_id, 'prefix', g.prefix, g.period_start, g.facs, g.inmates::float8, g.last_at,
       jsonb_build_object('distinct_inmates', g.inmates, 'distinct_numbers', g.numbers, 'calls', g.calls,
                          'inmates', g.inmate_ids, 'call_ids', g.call_ids, 'window_end', g.window_end,
                          'thresholds', jsonb_build_object('min_inmates', (g.p->>'min_inmates')::int,
                                                           'min_numbers', (g.p->>'min_numbers')::int,
                                                           'drop_digits', (g.p->>'drop_digits')::int,
                                                           'window_days', (g.p->>'window_days')::int))
  FROM grp g
""")

# 11. International, premium-rate or toll-free numbers not on the region's allowed list.
PREMIUM_INTERNATIONAL = expand("""
WITH /*prm*/, /*counsel*/, /*family*/, /*bounds*/,
-- A cheap test on every call first: domestic prefixes every region shares, premium prefixes any region
-- lists. It lets through a superset; each region's own lists decide below.
coarse AS (
    SELECT coalesce((SELECT array_agg(d || '%') FROM (
                SELECT x AS d FROM prm, jsonb_array_elements_text(p->'domestic_prefixes') x
                 GROUP BY x HAVING count(*) = (SELECT count(*) FROM prm)) common), '{}') AS domestic,
           coalesce((SELECT array_agg(DISTINCT x || '%') FROM prm, jsonb_array_elements_text(p->'premium_prefixes') x),
                    '{}') AS premium),
ev AS (
    SELECT c.facility_id, c.inmate_id, c.dialled_e164 AS num, 'call' AS kind, c.call_id AS record_id, c.started_at AS t
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz AND c.dialled_e164 IS NOT NULL
       AND (NOT c.dialled_e164 LIKE ANY((SELECT domestic FROM coarse)::text[])
            OR c.dialled_e164 LIKE ANY((SELECT premium FROM coarse)::text[]))
       AND ($6::text[] IS NULL OR c.dialled_e164 = ANY($6::text[]))
    UNION ALL
    SELECT i.current_facility_id, k.inmate_id, k.phone_e164, 'registration', k.id, k.created_at
      FROM contacts k JOIN inmates i ON i.id = k.inmate_id
     WHERE k.created_at >= (SELECT lo FROM bounds) AND k.created_at < $2::timestamptz
       AND k.status IN ('pending', 'verified') AND NOT k.is_legal_counsel
       AND ($6::text[] IS NULL OR k.phone_e164 = ANY($6::text[]))),
-- Prefix lists as LIKE patterns once per region (E.164 prefixes hold no LIKE wildcards).
pat AS (
    SELECT region_id, p, wd,
           ARRAY(SELECT x || '%' FROM jsonb_array_elements_text(p->'domestic_prefixes') x) AS domestic,
           ARRAY(SELECT x || '%' FROM jsonb_array_elements_text(p->'premium_prefixes') x) AS premium,
           ARRAY(SELECT x || '%' FROM jsonb_array_elements_text(p->'allowed_prefixes') x) AS allowed
      FROM prm),
hits AS MATERIALIZED (
    SELECT pat.region_id, pat.p, pat.wd, ev.*,
           CASE WHEN ev.num LIKE ANY(pat.domestic) THEN 'premium_or_toll_free' ELSE 'international' END AS category
      FROM ev
      JOIN facilities f ON f.id = ev.facility_id
      JOIN pat ON pat.region_id = f.region_id
     WHERE (NOT ev.num LIKE ANY(pat.domestic) OR ev.num LIKE ANY(pat.premium))
       AND NOT ev.num LIKE ANY(pat.allowed) AND ev.num NOT IN (SELECT num FROM counsel)
       -- A spouse, child or sibling working abroad, registered and verified (KTP, in person or callback),
       -- is ordinary calling for a migrant worker's family, not suspicious by itself; premium-rate and
       -- toll-free numbers never are, and an unverified number abroad still is.
       AND (ev.num LIKE ANY(pat.domestic)
            OR NOT EXISTS (SELECT 1 FROM family fam WHERE fam.num = ev.num AND fam.inmate_id = ev.inmate_id))),
matched AS (
    SELECT h.*, per.period_start
      FROM hits h
     CROSS JOIN LATERAL unnest(detection_periods(h.t, $2::timestamptz, h.wd)) AS per(period_start)
     WHERE per.period_start >= detection_bucket($1::timestamptz, h.wd))
SELECT region_id, 'number', num, period_start, array_agg(DISTINCT facility_id), count(*)::float8, max(t),
       jsonb_build_object('category', min(category), 'inmates', array_agg(DISTINCT inmate_id),
                          'call_ids', (array_agg(record_id ORDER BY t DESC) FILTER (WHERE kind = 'call'))[1:50],
                          'contact_ids', array_agg(DISTINCT record_id) FILTER (WHERE kind = 'registration'),
                          'count', count(*))
  FROM matched
 GROUP BY region_id, num, period_start
""")

# 13. Two inmates' calls to one number overlapping by >= min_overlap_s: a possible bridged call. Only
# numbers where some call starts before an earlier call has ended are joined pairwise.
OVERLAPPING_CALLS = expand("""
WITH /*prm*/, /*counsel*/, /*family*/, /*bounds*/,
callers AS (
    SELECT c.dialled_e164 AS num, c.inmate_id
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.ended_at IS NOT NULL AND c.answered AND c.inmate_id IS NOT NULL AND c.dialled_e164 IS NOT NULL
       AND ($6::text[] IS NULL OR c.dialled_e164 = ANY($6::text[]))
     GROUP BY c.dialled_e164, c.inmate_id),
shared AS (SELECT num FROM callers GROUP BY num HAVING count(*) >= 2),
base AS (
    SELECT c.facility_id, c.call_id, c.inmate_id, c.dialled_e164 AS num, c.started_at, c.ended_at
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.ended_at IS NOT NULL AND c.answered AND c.inmate_id IS NOT NULL
       AND c.dialled_e164 IN (SELECT num FROM shared)
       AND c.dialled_e164 NOT IN (SELECT num FROM counsel)),
ordered AS (
    SELECT b.*, max(b.ended_at) OVER (PARTITION BY b.num ORDER BY b.started_at, b.call_id
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
      FROM base b),
cand_nums AS (SELECT DISTINCT num FROM ordered WHERE prev_end > started_at),
pairs AS (
    SELECT a.num, a.facility_id AS fa, b.facility_id AS fb, a.call_id AS ca, b.call_id AS cb,
           a.inmate_id AS ia, b.inmate_id AS ib, b.started_at,
           extract(epoch FROM least(a.ended_at, b.ended_at) - b.started_at) AS overlap_s
      FROM base a
      JOIN base b ON b.num = a.num AND b.inmate_id <> a.inmate_id
                 AND (b.started_at, b.call_id) > (a.started_at, a.call_id) AND b.started_at < a.ended_at
     WHERE a.num IN (SELECT num FROM cand_nums)
       AND NOT (EXISTS (SELECT 1 FROM family f1 WHERE f1.num = a.num AND f1.inmate_id = a.inmate_id)
                AND EXISTS (SELECT 1 FROM family f2 WHERE f2.num = a.num AND f2.inmate_id = b.inmate_id))),
matched AS (
    SELECT prm.region_id, pairs.*, per.period_start
      FROM pairs
      JOIN facilities f ON f.id = pairs.fa
      JOIN prm ON prm.region_id = f.region_id
     CROSS JOIN LATERAL unnest(detection_periods(pairs.started_at, $2::timestamptz, prm.wd))
           AS per(period_start)
     WHERE pairs.overlap_s >= (prm.p->>'min_overlap_s')::int
       AND per.period_start >= detection_bucket($1::timestamptz, prm.wd))
SELECT region_id, 'number', num, period_start, array_agg(DISTINCT fa) || array_agg(DISTINCT fb), max(overlap_s)::float8,
       max(started_at),
       jsonb_build_object('pairs', jsonb_agg(jsonb_build_object('call_ids', jsonb_build_array(ca, cb),
                                                                'inmate_ids', jsonb_build_array(ia, ib),
                                                                'overlap_s', round(overlap_s))
                                             ORDER BY started_at),
                          'thresholds', jsonb_build_object('min_overlap_s', min((p->>'min_overlap_s')::int)))
  FROM matched JOIN prm USING (region_id)
 GROUP BY region_id, num, period_start
""")
