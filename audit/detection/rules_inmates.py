"""Rules whose subject is an inmate (detection.md patterns 3, 7, 9, 10, 12, 19 and kiosk mismatches)."""

from __future__ import annotations

from audit.detection.fragments import expand

# 3. Weekly call count against the inmate's own previous four weeks, both directions (modified z with
# median and MAD). Inmates with under four weeks of history are compared with their facility block.
# Complete weeks only: a week is a drop only once it is over, and judged mid-week it would differ from
# the rescan's verdict on the same week.
VOLUME_CHANGE = expand("""
WITH /*prm*/, /*counsel*/,
-- five weeks of history before the first week evaluated, and four more for the facility's own baseline
bounds AS (SELECT least(detection_bucket($1::timestamptz, 7), detection_bucket($2::timestamptz, 7)) - interval '63 days' AS lo),
call_weeks AS (
    SELECT c.inmate_id, detection_bucket(c.started_at, 7) AS wk, count(*) AS n, max(c.started_at) AS last_at
      FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz AND c.inmate_id IS NOT NULL
       AND coalesce(c.dialled_e164, '') NOT IN (SELECT num FROM counsel)
       AND ($5::bigint[] IS NULL OR c.inmate_id IN (
             SELECT o.id FROM inmates o JOIN inmates me ON me.current_facility_id = o.current_facility_id
                    AND me.block IS NOT DISTINCT FROM o.block WHERE me.id = ANY($5::bigint[])))
     GROUP BY c.inmate_id, detection_bucket(c.started_at, 7)),
-- Family calls the facility cancelled on its own account (an outage, a booth out of service): the inmate
-- wanted them, so they count; a drop the facility caused is not the inmate's drop.
lost_weeks AS (
    SELECT b.inmate_id, detection_bucket(lower(b.slot), 7) AS wk, count(*) AS n
      FROM bookings b
     WHERE b.status = 'cancelled' AND b.cancel_reason IN ('facility', 'technical') AND b.allowance = 'family'
       AND lower(b.slot) >= (SELECT lo FROM bounds) AND lower(b.slot) < $2::timestamptz
       AND ($5::bigint[] IS NULL OR b.inmate_id IN (SELECT inmate_id FROM call_weeks))
     GROUP BY b.inmate_id, detection_bucket(lower(b.slot), 7)),
weekly AS (
    -- (call ids are looked up for flagged weeks only: an ordered aggregate here would sort every call)
    SELECT inmate_id, wk, sum(n) AS n, max(last_at) AS last_at, NULL::bigint[] AS call_ids
      FROM (SELECT inmate_id, wk, n, last_at FROM call_weeks
            UNION ALL
            SELECT inmate_id, wk, n, NULL FROM lost_weeks) x
     GROUP BY inmate_id, wk),
-- History starts at the inmate's first recorded call in the window (or go-live would look like a rise).
first_call AS (SELECT inmate_id, min(wk) AS wk FROM call_weeks GROUP BY inmate_id),
inm AS (
    SELECT i.id AS inmate_id, i.current_facility_id AS facility_id, i.block, f.region_id,
           greatest((SELECT lo FROM bounds), detection_bucket(i.admitted_on::timestamptz, 7) + interval '7 days',
                    fc.wk) AS first_wk,
           least(detection_bucket($2::timestamptz, 7),
                 coalesce(detection_bucket(i.released_on::timestamptz, 7) - interval '7 days', 'infinity')) AS last_wk
      FROM inmates i JOIN facilities f ON f.id = i.current_facility_id JOIN first_call fc ON fc.inmate_id = i.id
     WHERE (i.released_on IS NULL OR i.released_on >= (SELECT lo FROM bounds)::date)
       AND ($5::bigint[] IS NULL OR (i.current_facility_id, coalesce(i.block, '')) IN (
             SELECT current_facility_id, coalesce(block, '') FROM inmates WHERE id = ANY($5::bigint[])))),
raw AS (
    SELECT d.inmate_id, d.facility_id, d.block, d.region_id, g.wk, coalesce(w.n, 0)::float8 AS calls, w.last_at, w.call_ids,
           g.wk > d.first_wk AS established
      FROM inm d
     CROSS JOIN LATERAL generate_series(d.first_wk, d.last_wk, interval '7 days') AS g(wk)
      LEFT JOIN weekly w ON w.inmate_id = d.inmate_id AND w.wk = g.wk),
-- What everyone did: a holiday (Idul Fitri, Natal/Tahun Baru, Nyepi) or a facility-wide event moves every
-- inmate's count at once. Each week's count is divided by how far the facility's mean calls per inmate
-- stand from its own previous four weeks (the region's, for a facility with fewer than
-- min_factor_inmates inmates), so an inmate is compared with their history as everyone moved.
-- Only inmates past their first (partial) week count, and the baseline is the median of the previous
-- four weeks: a facility's first week after going live, or last year's holiday, does not skew it.
fac_week AS (
    SELECT facility_id, region_id, wk, avg(calls) FILTER (WHERE established) AS mean,
           count(*) FILTER (WHERE established) AS inmates
      FROM raw GROUP BY facility_id, region_id, wk),
reg_week AS (
    SELECT region_id, wk, sum(mean * inmates) / nullif(sum(inmates), 0) AS mean
      FROM fac_week WHERE inmates > 0 GROUP BY region_id, wk),
-- MATERIALIZED: computed once per facility-week; inlined, the medians were evaluated again for every
-- inmate-week and every window function reading the factor (a region-year's rescan took minutes).
factors AS MATERIALIZED (
    SELECT fw.facility_id, fw.wk,
           CASE WHEN fw.inmates >= (prm.p->>'min_factor_inmates')::int AND cardinality(fw.base) >= 2
                     AND detection_median(fw.base) > 0 THEN fw.mean / detection_median(fw.base)
                WHEN cardinality(rw.base) >= 2 AND detection_median(rw.base) > 0 AND rw.mean IS NOT NULL
                     THEN rw.mean / detection_median(rw.base)
                ELSE 1 END AS factor
      FROM (SELECT f.*, array_agg(f.mean) FILTER (WHERE f.mean IS NOT NULL)
                        OVER (PARTITION BY f.facility_id ORDER BY f.wk ROWS BETWEEN 4 PRECEDING AND 1 PRECEDING)
                        AS base FROM fac_week f) fw
      LEFT JOIN (SELECT r.*, array_agg(r.mean) OVER (PARTITION BY r.region_id ORDER BY r.wk ROWS BETWEEN 4 PRECEDING
                                                                                             AND 1 PRECEDING)
                        AS base FROM reg_week r) rw ON rw.region_id = fw.region_id AND rw.wk = fw.wk
      JOIN prm ON prm.region_id = fw.region_id),
adjusted AS (
    SELECT r.*, fa.factor, r.calls / greatest(fa.factor, 0.1) AS n
      FROM raw r JOIN factors fa ON fa.facility_id = r.facility_id AND fa.wk = r.wk),
series AS (
    SELECT a.inmate_id, a.facility_id, a.block, a.region_id, a.wk, a.calls, a.factor, a.n, a.last_at, a.call_ids,
           array_agg(a.n) OVER h AS hist, min(a.n) OVER h AS hmin, max(a.n) OVER h AS hmax, count(*) OVER h AS hlen,
           avg(a.n) OVER h AS hmean
      FROM adjusted a
    WINDOW h AS (PARTITION BY a.inmate_id ORDER BY a.wk ROWS BETWEEN 4 PRECEDING AND 1 PRECEDING)),
-- Facility-block baseline for short histories: the block's median that week first (one grouped pass),
-- then the MAD only for the blocks where some short-history inmate is far enough from that median.
block_med AS (
    SELECT facility_id, block, wk, percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS med, count(*) AS peers
      FROM series GROUP BY facility_id, block, wk),
-- A short history means a recent admission only where the facility has four weeks of calls before the
-- week: in a facility's first weeks (going live, or the start of the data) every inmate's history is
-- short, and a block of strangers is no baseline for anyone.
fac_first AS (SELECT facility_id, min(first_wk) AS wk FROM inm GROUP BY facility_id),
short AS (
    SELECT s.*, prm.p, bm.med, bm.peers
      FROM series s JOIN prm ON prm.region_id = s.region_id
      JOIN block_med bm ON bm.facility_id = s.facility_id AND bm.block IS NOT DISTINCT FROM s.block AND bm.wk = s.wk
      JOIN fac_first ff ON ff.facility_id = s.facility_id
     WHERE s.hlen < 4 AND abs(s.n - bm.med) >= (prm.p->>'min_delta')::int
       AND bm.peers >= (prm.p->>'min_block_peers')::int AND s.wk >= ff.wk + interval '28 days'),
block_vals AS (
    SELECT s.facility_id, s.block, s.wk, array_agg(s.n) AS vals
      FROM series s
     WHERE (s.facility_id, coalesce(s.block, ''), s.wk) IN (SELECT facility_id, coalesce(block, ''), wk FROM short)
     GROUP BY s.facility_id, s.block, s.wk),
cand AS (
    SELECT s.*, prm.p, s.hist AS baseline, 'own_history' AS baseline_kind
      FROM series s JOIN prm ON prm.region_id = s.region_id
     WHERE s.hlen >= 4 AND (s.n >= s.hmin + (prm.p->>'min_delta')::int OR s.n <= s.hmax - (prm.p->>'min_delta')::int)
    UNION ALL
    SELECT sh.inmate_id, sh.facility_id, sh.block, sh.region_id, sh.wk, sh.calls, sh.factor, sh.n, sh.last_at,
           sh.call_ids, sh.hist, sh.hmin, sh.hmax, sh.hlen, sh.hmean, sh.p, b.vals, 'facility_block'
      FROM short sh
      JOIN block_vals b ON b.facility_id = sh.facility_id AND b.block IS NOT DISTINCT FROM sh.block AND b.wk = sh.wk),
evaluated AS (
    SELECT c.* FROM cand c
     WHERE c.wk >= detection_bucket($1::timestamptz, 7) AND c.wk + interval '7 days' <= $2::timestamptz
       AND ($5::bigint[] IS NULL OR c.inmate_id = ANY($5::bigint[]))),
-- How everyone's count changed against their own history that week, in the facility: a holiday spreads
-- the changes (some families call four times more, others not at all), so a change is judged against the
-- spread of the peers' changes too (median and MAD), for the facility-weeks with a candidate only.
peer_med AS (
    SELECT s.facility_id, s.wk, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.n - s.hmean) AS dmed
      FROM series s
     WHERE s.hlen >= 4 AND (s.facility_id, s.wk) IN (SELECT facility_id, wk FROM evaluated WHERE baseline_kind = 'own_history')
     GROUP BY s.facility_id, s.wk),
peer_spread AS (
    SELECT s.facility_id, s.wk, pm.dmed, percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(s.n - s.hmean - pm.dmed)) AS dmad,
           count(*) AS peers
      FROM series s JOIN peer_med pm ON pm.facility_id = s.facility_id AND pm.wk = s.wk
     WHERE s.hlen >= 4
     GROUP BY s.facility_id, s.wk, pm.dmed),
scored AS (
    SELECT c.*, detection_median(c.baseline) AS med,
           detection_modified_z(c.n, c.baseline, (c.p->>'mad_floor')::float8) AS z, ps.dmed, ps.dmad,
           CASE WHEN ps.peers >= (c.p->>'min_block_peers')::int
                THEN 0.6745 * ((c.n - c.hmean) - ps.dmed) / greatest(ps.dmad, (c.p->>'mad_floor')::float8) END AS peer_z
      FROM evaluated c
      LEFT JOIN peer_spread ps ON c.baseline_kind = 'own_history' AND ps.facility_id = c.facility_id AND ps.wk = c.wk)
SELECT region_id, 'inmate', inmate_id::text, wk, ARRAY[facility_id], z, coalesce(last_at, wk),
       jsonb_build_object('week_start', wk, 'calls', calls, 'adjusted_calls', round(n::numeric, 2),
                          'everyone_factor', round(factor::numeric, 3),
                          'baseline', (SELECT array_agg(round(x::numeric, 2)) FROM unnest(baseline) x),
                          'baseline_kind', baseline_kind,
                          'median', round(med::numeric, 2), 'modified_z', round(z::numeric, 2),
                          'peer_z', round(peer_z::numeric, 2), 'peers_change_median', round(dmed::numeric, 2),
                          'peers_change_mad', round(dmad::numeric, 2),
                          'direction', CASE WHEN n > med THEN 'rise' ELSE 'drop' END,
                          'call_ids', (SELECT array_agg(x.call_id ORDER BY x.started_at DESC) FROM (
                                SELECT c.call_id, c.started_at FROM calls c
                                 WHERE c.inmate_id = scored.inmate_id AND c.started_at < wk + interval '7 days'
                                   AND c.started_at >= wk
                                 ORDER BY c.started_at DESC LIMIT 20) x),
                          'thresholds', jsonb_build_object('z', (p->>'z_threshold')::float8,
                                                           'min_delta', (p->>'min_delta')::int,
                                                           'min_excess_sd', (p->>'min_excess_sd')::float8,
                                                           'min_factor_inmates', (p->>'min_factor_inmates')::int,
                                                           'max_p', (p->>'max_p')::float8,
                                                           'history_days', 28))
  FROM scored
 WHERE abs(z) > (p->>'z_threshold')::float8 AND abs(n - med) >= (p->>'min_delta')::int
   AND (peer_z IS NULL OR abs(peer_z) > (p->>'z_threshold')::float8)
   -- A rise must also be improbable for calls arriving at the usual rate as everyone moved: a family
   -- that calls twice a week calling seven times in the Lebaran week (p = 0.02) is not a pattern.
   AND (n <= med OR detection_poisson_sf(calls::int, greatest(med * factor, 0.5)) <= (p->>'max_p')::float8)
   -- Weekly counts of three or four calls are Poisson-noisy: a few no-shows in one week must not read as
   -- a drop. Also require min_excess_sd Poisson standard deviations from the median.
   AND abs(n - med) >= (p->>'min_excess_sd')::float8 * sqrt(greatest(med, 1))
""")

# 7. Random dialling: >= min_new_numbers never-before-called numbers within window_minutes, with short
# calls (median duration under max_median_duration_s) or few answers (answer rate under min_answer_rate).
NEW_NUMBER_BURST = expand("""
WITH /*prm*/, /*counsel*/,
bounds AS (SELECT least(detection_bucket($1::timestamptz, 1), $2::timestamptz - interval '1 day') - interval '1 day' AS lo),
firsts AS (
    SELECT c.inmate_id, c.dialled_e164 AS num, min(c.started_at) AS first_at
      FROM calls c
     WHERE c.started_at < $2::timestamptz AND c.inmate_id IS NOT NULL AND c.dialled_e164 IS NOT NULL
       AND ($5::bigint[] IS NULL OR c.inmate_id = ANY($5::bigint[]))
     GROUP BY c.inmate_id, c.dialled_e164
    HAVING min(c.started_at) >= (SELECT lo FROM bounds)),
new_calls AS MATERIALIZED (
    SELECT c.facility_id, c.inmate_id, c.call_id, c.started_at, c.answered,
           extract(epoch FROM coalesce(c.ended_at, c.started_at) - c.started_at) AS duration_s, f.region_id
      FROM firsts fi
      JOIN calls c ON c.inmate_id = fi.inmate_id AND c.dialled_e164 = fi.num AND c.started_at = fi.first_at
      JOIN facilities f ON f.id = c.facility_id
     WHERE fi.num NOT IN (SELECT num FROM counsel)),
-- Any window of window_minutes lies within two consecutive slots of that length: only inmates with enough
-- new numbers in some pair of adjacent slots are joined pairwise.
slots AS (
    SELECT inmate_id, floor(date_part('epoch', started_at)
                            / (60 * (SELECT max((p->>'window_minutes')::int) FROM prm))) AS slot, count(*) AS n
      FROM new_calls GROUP BY inmate_id, 2),
dense AS (
    SELECT DISTINCT inmate_id
      FROM (SELECT inmate_id, n + CASE WHEN lead(slot) OVER w = slot + 1 THEN lead(n) OVER w ELSE 0 END AS pair
              FROM slots WINDOW w AS (PARTITION BY inmate_id ORDER BY slot)) x
     WHERE pair >= (SELECT min((p->>'min_new_numbers')::int) FROM prm)),
crossing AS (
    SELECT a.region_id, a.inmate_id, a.facility_id, a.started_at, count(*) AS n
      FROM new_calls a
      JOIN prm ON prm.region_id = a.region_id
      JOIN new_calls b ON b.inmate_id = a.inmate_id AND b.started_at <= a.started_at
                      AND b.started_at > a.started_at - make_interval(mins => (prm.p->>'window_minutes')::int)
     WHERE a.inmate_id IN (SELECT inmate_id FROM dense)
     GROUP BY a.region_id, a.inmate_id, a.facility_id, a.started_at, a.call_id
    HAVING count(*) >= min((prm.p->>'min_new_numbers')::int)),
first_cross AS (
    SELECT region_id, inmate_id, min(facility_id) AS facility_id, detection_bucket(started_at, 1) AS period_start,
           min(started_at) AS t
      FROM crossing GROUP BY region_id, inmate_id, detection_bucket(started_at, 1)),
burst AS (
    SELECT fc.region_id, fc.inmate_id, fc.facility_id, fc.period_start, fc.t, prm.p, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY nc.duration_s) AS median_s,
           avg(nc.answered::int) AS answer_rate, array_agg(nc.call_id ORDER BY nc.started_at) AS call_ids
      FROM first_cross fc
      JOIN prm ON prm.region_id = fc.region_id
      JOIN new_calls nc ON nc.inmate_id = fc.inmate_id AND nc.started_at <= fc.t
                       AND nc.started_at > fc.t - make_interval(mins => (prm.p->>'window_minutes')::int)
     WHERE fc.period_start >= detection_bucket($1::timestamptz, 1)
     GROUP BY fc.region_id, fc.inmate_id, fc.facility_id, fc.period_start, fc.t, prm.p)
SELECT region_id, 'inmate', inmate_id::text, period_start, ARRAY[facility_id], n::float8, t,
       jsonb_build_object('new_numbers', n, 'median_duration_s', round(median_s::numeric, 1),
                          'answer_rate', round(answer_rate::numeric, 2), 'call_ids', call_ids,
                          'thresholds', jsonb_build_object('window_minutes', (p->>'window_minutes')::int,
                                                           'min_new_numbers', (p->>'min_new_numbers')::int,
                                                           'max_median_duration_s', (p->>'max_median_duration_s')::int,
                                                           'min_answer_rate', (p->>'min_answer_rate')::float8))
  FROM burst
 WHERE median_s < (p->>'max_median_duration_s')::int OR answer_rate < (p->>'min_answer_rate')::float8
""")

# 9. Contact churn: 1 - Dice(this week's numbers, the previous four weeks') above max_churn. Complete
# weeks only: churn is not monotone in the week's calls (a later call to a known number lowers it).
CONTACT_CHURN = expand("""
WITH /*prm*/, /*counsel*/,
bounds AS (SELECT least(detection_bucket($1::timestamptz, 7), detection_bucket($2::timestamptz, 7)) - interval '35 days' AS lo),
wk_nums AS (
    SELECT c.inmate_id, per.period_start AS wk, c.dialled_e164 AS num, min(c.facility_id) AS facility_id,
           max(c.started_at) AS last_at
      FROM calls c
     CROSS JOIN LATERAL unnest(detection_periods(c.started_at, $2::timestamptz, 7)) AS per(period_start)
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.inmate_id IS NOT NULL AND c.dialled_e164 IS NOT NULL
       AND ($5::bigint[] IS NULL OR c.inmate_id = ANY($5::bigint[]))
       AND c.dialled_e164 NOT IN (SELECT num FROM counsel)
     GROUP BY c.inmate_id, per.period_start, c.dialled_e164),
chained AS (
    SELECT w.*, lag(w.wk) OVER p AS prev_wk, lead(w.wk) OVER p AS next_wk
      FROM wk_nums w WINDOW p AS (PARTITION BY w.inmate_id, w.num ORDER BY w.wk)),
-- Numbers newly registered as verified core family (identity checked) are the family list growing or
-- changing through the front desk, not churn: a family verified after admission, a parent's new SIM card.
recent_family AS (
    SELECT k.inmate_id, k.phone_e164 AS num, min(k.created_at) AS registered
      FROM contacts k
     WHERE k.status = 'verified' AND k.relation IN ('spouse', 'parent', 'child', 'sibling', 'guardian')
       AND k.verification_method IN ('ktp', 'in_person', 'callback')
       AND k.created_at >= (SELECT lo FROM bounds) - interval '28 days' AND k.created_at < $2::timestamptz
       AND ($5::bigint[] IS NULL OR k.inmate_id = ANY($5::bigint[]))
     GROUP BY k.inmate_id, k.phone_e164),
a_all AS (
    SELECT x.*, x.a_total - x.new_family AS a_size
      FROM (SELECT ch.inmate_id, ch.wk, count(*) AS a_total,
                   count(*) FILTER (WHERE ch.prev_wk >= ch.wk - interval '28 days') AS common,
                   -- not called in the previous four weeks, registered as verified core family in them or since
                   count(*) FILTER (WHERE NOT coalesce(ch.prev_wk >= ch.wk - interval '28 days', false)
                                      AND rf.registered >= ch.wk - interval '28 days') AS new_family,
                   min(ch.facility_id) AS facility_id, max(ch.last_at) AS last_at
              FROM chained ch LEFT JOIN recent_family rf ON rf.inmate_id = ch.inmate_id AND rf.num = ch.num
             GROUP BY ch.inmate_id, ch.wk) x),
-- |B| is at most the sum of the four previous weeks' sizes, so Dice >= 2|A∩B| / (|A| + that sum): weeks
-- that cannot reach the threshold even then (every steady family) are dropped before |B| is counted.
a AS (
    SELECT x.* FROM (
        SELECT a_all.*, sum(a_total) OVER (PARTITION BY inmate_id ORDER BY wk RANGE BETWEEN interval '28 days' PRECEDING
                                                                               AND interval '7 days' PRECEDING) AS b_max
          FROM a_all) x
     WHERE x.wk >= detection_bucket($1::timestamptz, 7) AND x.wk + interval '7 days' <= $2::timestamptz
       AND 2.0 * x.common < (1 - (SELECT min((p->>'max_churn')::float8) FROM prm)) * (x.a_size + coalesce(x.b_max, 0))),
-- Each appearance puts its number into the "previous four weeks" of the following weeks up to its next
-- appearance, so counting rows gives |B| without a distinct.
prev_cov AS (
    SELECT ch.inmate_id, g.wk
      FROM chained ch
      JOIN (SELECT DISTINCT inmate_id FROM a) cand USING (inmate_id)
     CROSS JOIN LATERAL generate_series(ch.wk + interval '7 days',
                                        least(ch.wk + interval '28 days', coalesce(ch.next_wk, ch.wk + interval '28 days')),
                                        interval '7 days') AS g(wk)),
b AS (SELECT inmate_id, wk, count(*) AS b_size FROM prev_cov GROUP BY inmate_id, wk),
scored AS (
    SELECT a.*, b.b_size, f.region_id, prm.p, 2.0 * a.common / (a.a_size + b.b_size) AS dice
      FROM a JOIN b USING (inmate_id, wk)
      JOIN facilities f ON f.id = a.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE a.a_size >= (prm.p->>'min_current')::int AND b.b_size >= (prm.p->>'min_previous')::int)
SELECT region_id, 'inmate', inmate_id::text, wk, ARRAY[facility_id], (1 - dice)::float8, last_at,
       jsonb_build_object('week_start', wk, 'numbers_this_week', a_size, 'numbers_previous_4_weeks', b_size,
                          'new_verified_family_left_out', new_family,
                          'common', common, 'dice', round(dice, 3), 'churn', round(1 - dice, 3),
                          'thresholds', jsonb_build_object('max_churn', (p->>'max_churn')::float8,
                                                           'min_current', (p->>'min_current')::int,
                                                           'min_previous', (p->>'min_previous')::int))
  FROM scored
 WHERE 1 - dice > (p->>'max_churn')::float8
""")

# 10. Dice overlap of an inmate's numbers in a window of window_days ending at one of their calls with the
# numbers of a known fraudster (an inmate subject of a confirmed flag) over fraud_history_days before
# release (or now). The window slides over the inmate's calls, as shared_number's.
FRAUD_SET_OVERLAP = expand("""
WITH /*prm*/, /*counsel*/, /*family*/, /*slide_bounds*/,
fraudsters AS (
    SELECT DISTINCT i.id AS fraudster_id,
           least($2::timestamptz, coalesce(i.released_on::timestamptz + interval '1 day', $2::timestamptz)) AS upto
      FROM detection_flags fl JOIN inmates i ON i.id = fl.subject_key::bigint
     WHERE fl.subject_type = 'inmate' AND fl.status = 'confirmed'),
fraud_set AS (
    SELECT DISTINCT fr.fraudster_id, c.dialled_e164 AS num
      FROM fraudsters fr
      JOIN calls c ON c.inmate_id = fr.fraudster_id AND c.started_at < fr.upto
                  AND c.started_at >= fr.upto - interval '1 day' * (SELECT max((p->>'fraud_history_days')::int) FROM prm)
     WHERE c.dialled_e164 IS NOT NULL AND c.dialled_e164 NOT IN (SELECT num FROM counsel)),
fraud_size AS (SELECT fraudster_id, count(*) AS size FROM fraud_set GROUP BY fraudster_id),
-- Only inmates who called at least one known-fraud number can overlap; their calls are read after.
touching AS (
    SELECT DISTINCT c.inmate_id FROM calls c
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.dialled_e164 IN (SELECT num FROM fraud_set)
       AND ($5::bigint[] IS NULL OR c.inmate_id = ANY($5::bigint[]))),
mine AS (
    SELECT prm.region_id, prm.p, prm.wd, c.inmate_id, c.call_id, c.started_at AS t, c.dialled_e164 AS num,
           c.facility_id
      FROM calls c
      JOIN facilities f ON f.id = c.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND c.inmate_id IS NOT NULL AND c.dialled_e164 IS NOT NULL
       AND c.inmate_id IN (SELECT inmate_id FROM touching)
       AND c.inmate_id NOT IN (SELECT fraudster_id FROM fraudsters)
       AND c.dialled_e164 NOT IN (SELECT num FROM counsel)),
-- The distinct numbers of the window ending at each call of the periods evaluated.
win AS (
    SELECT DISTINCT e.region_id, e.inmate_id, e.call_id AS end_id, e.t AS end_t, e.facility_id, m.num
      FROM mine e
      JOIN mine m ON m.inmate_id = e.inmate_id AND (m.t, m.call_id) <= (e.t, e.call_id)
               AND m.t > e.t - make_interval(days => e.wd)
     WHERE e.t >= detection_bucket($1::timestamptz, e.wd)),
win_size AS (SELECT inmate_id, end_id, count(*) AS size FROM win GROUP BY inmate_id, end_id),
common AS (
    SELECT w.region_id, w.inmate_id, w.end_id, w.end_t, w.facility_id, fs.fraudster_id, count(*) AS common
      FROM win w JOIN fraud_set fs ON fs.num = w.num
     WHERE NOT (EXISTS (SELECT 1 FROM family a WHERE a.num = w.num AND a.inmate_id = w.inmate_id)
                AND EXISTS (SELECT 1 FROM family b WHERE b.num = w.num AND b.inmate_id = fs.fraudster_id))
     GROUP BY w.region_id, w.inmate_id, w.end_id, w.end_t, w.facility_id, fs.fraudster_id),
scored AS (
    SELECT c.*, ws.size AS my_size, fz.size AS fraud_size, prm.p, prm.wd, 2.0 * c.common / (ws.size + fz.size) AS dice
      FROM common c
      JOIN win_size ws USING (inmate_id, end_id)
      JOIN fraud_size fz USING (fraudster_id)
      JOIN prm ON prm.region_id = c.region_id
     WHERE 2.0 * c.common / (ws.size + fz.size) >= (prm.p->>'min_dice')::float8
       AND c.common >= (prm.p->>'min_common')::int),
-- Per period, the latest window that overlapped, with every fraudster it overlapped.
latest AS (
    SELECT DISTINCT ON (region_id, inmate_id, detection_bucket(end_t, wd)) region_id, inmate_id, end_id, end_t,
           detection_bucket(end_t, wd) AS period_start
      FROM scored ORDER BY region_id, inmate_id, detection_bucket(end_t, wd), end_t DESC, end_id DESC)
SELECT l.region_id, 'inmate', l.inmate_id::text, l.period_start, ARRAY[min(s.facility_id)], max(s.dice)::float8, l.end_t,
       jsonb_build_object('fraudsters', jsonb_agg(jsonb_build_object('inmate_id', s.fraudster_id, 'common', s.common,
                                                                   'their_numbers', s.fraud_size, 'dice', round(s.dice, 3))
                                                  ORDER BY s.dice DESC, s.fraudster_id),
                          'numbers_called', min(s.my_size), 'window_end', l.end_t,
                          'thresholds', jsonb_build_object('min_dice', min((s.p->>'min_dice')::float8),
                                                           'min_common', min((s.p->>'min_common')::int),
                                                           'window_days', min((s.p->>'window_days')::int)))
  FROM latest l JOIN scored s ON s.inmate_id = l.inmate_id AND s.end_id = l.end_id
 GROUP BY l.region_id, l.inmate_id, l.period_start, l.end_t
""")

# 12. Repeated officer cut-offs of one inmate's calls: at least min_cut_offs in a window of window_days
# ending at one of them. The window slides over the cut-offs, so a pattern straddling two periods is found
# by the rescan exactly as by the live path.
REPEATED_CUTOFFS = expand("""
WITH /*prm*/, /*slide_bounds*/,
ev AS (
    SELECT prm.region_id, prm.p, prm.wd, c.facility_id, c.inmate_id, c.call_id, c.ended_at AS t, c.ended_by
      FROM calls c
      JOIN facilities f ON f.id = c.facility_id
      JOIN prm ON prm.region_id = f.region_id
     WHERE c.outcome = 'cut_off' AND c.ended_by IS NOT NULL AND c.inmate_id IS NOT NULL
       AND c.ended_at >= (SELECT lo FROM bounds) AND c.ended_at < $2::timestamptz
       AND ($5::bigint[] IS NULL OR c.inmate_id = ANY($5::bigint[]))),
win AS (
    SELECT a.region_id, a.p, a.wd, a.inmate_id, a.call_id AS end_id, a.t AS end_t,
           detection_bucket(a.t, a.wd) AS period_start, count(*) AS n
      FROM ev a
      JOIN ev b ON b.inmate_id = a.inmate_id AND (b.t, b.call_id) <= (a.t, a.call_id)
               AND b.t > a.t - make_interval(days => a.wd)
     WHERE a.t >= detection_bucket($1::timestamptz, a.wd)
     GROUP BY a.region_id, a.p, a.wd, a.inmate_id, a.call_id, a.t
    HAVING count(*) >= min((a.p->>'min_cut_offs')::int)),
fired AS (
    SELECT DISTINCT ON (region_id, inmate_id, period_start) *
      FROM win ORDER BY region_id, inmate_id, period_start, end_t DESC, end_id DESC)
SELECT fi.region_id, 'inmate', fi.inmate_id::text, fi.period_start, array_agg(DISTINCT e.facility_id), fi.n::float8, fi.end_t,
       jsonb_build_object('cut_offs', fi.n, 'call_ids', array_agg(e.call_id ORDER BY e.t, e.call_id), 'window_end', fi.end_t,
                          'officers', array_agg(DISTINCT e.ended_by),
                          'thresholds', jsonb_build_object('min_cut_offs', (fi.p->>'min_cut_offs')::int,
                                                           'window_days', (fi.p->>'window_days')::int))
  FROM fired fi
  JOIN ev e ON e.inmate_id = fi.inmate_id AND (e.t, e.call_id) <= (fi.end_t, fi.end_id)
           AND e.t > fi.end_t - make_interval(days => fi.wd)
 GROUP BY fi.region_id, fi.inmate_id, fi.period_start, fi.n, fi.end_t, fi.p
""")

# 19. Rights starvation: an active inmate with no completed call for more than max_days. The flag is keyed
# by the start of the gap (last completed call, or admission), so it grows while the gap lasts.
RIGHTS_STARVATION = expand("""
WITH /*prm*/,
lookback AS (SELECT $1::timestamptz - interval '1 day' * (SELECT max((p->>'max_days')::int) + 1 FROM prm) AS lo),
-- A facility is monitored from its first recorded call (go-live); gaps before it are not starvation.
golive AS (
    SELECT f.id AS facility_id, f.region_id, f.kind, first.started_at AS since
      FROM facilities f
     CROSS JOIN LATERAL (SELECT c.started_at FROM calls c WHERE c.facility_id = f.id
                          ORDER BY c.started_at LIMIT 1) first),
inm AS (
    SELECT i.id AS inmate_id, i.current_facility_id AS facility_id, f.region_id, greatest(i.admitted_on::timestamptz, f.since) AS admitted_at,
           i.status, i.released_on, prm.p
      FROM inmates i JOIN golive f ON f.facility_id = i.current_facility_id JOIN prm ON prm.region_id = f.region_id
     WHERE f.kind <> 'bapas' AND i.admitted_on::timestamptz < $2::timestamptz
       AND (i.released_on IS NULL OR i.released_on::timestamptz >= $1::timestamptz)
       AND ($5::bigint[] IS NULL OR i.id = ANY($5::bigint[]))
       -- A suspension (a sanction the facility imposed, itself audited) explains the silence: an inmate
       -- suspended at any time within the rule's window is not "starved".
       AND NOT EXISTS (
            SELECT 1 FROM sanctions s
             WHERE s.inmate_id = i.id AND s.kind = 'suspend'
               AND s.during && tstzrange($2::timestamptz - interval '1 day' * (prm.p->>'max_days')::int,
                                         $2::timestamptz)
               AND (s.lifted_at IS NULL OR s.lifted_at > lower(s.during)))),
points AS (
    SELECT c.inmate_id, c.started_at AS t, c.call_id
      FROM calls c
     WHERE c.outcome IN ('completed', 'time_limited') AND c.started_at < $2::timestamptz
       AND c.started_at >= (SELECT lo FROM lookback) AND c.inmate_id IN (SELECT inmate_id FROM inm)
    UNION ALL
    -- where each inmate stood when the lookback starts: the last completed call before it, or admission
    SELECT i.inmate_id, greatest(coalesce(prior.started_at, i.admitted_at), i.admitted_at), prior.call_id
      FROM inm i
      LEFT JOIN LATERAL (
            SELECT c.started_at, c.call_id FROM calls c
             WHERE c.inmate_id = i.inmate_id AND c.started_at < (SELECT lo FROM lookback)
               AND c.outcome IN ('completed', 'time_limited')
             ORDER BY c.started_at DESC LIMIT 1) prior ON true
     WHERE prior.call_id IS NOT NULL OR i.admitted_at < (SELECT lo FROM lookback)
    UNION ALL
    SELECT i.inmate_id, i.admitted_at, NULL
      FROM inm i WHERE i.admitted_at >= (SELECT lo FROM lookback)),
gaps AS (
    SELECT p.inmate_id, p.t AS gap_start, p.call_id AS after_call_id,
           lead(p.t) OVER w AS next_t, lead(p.call_id) OVER w AS next_call_id
      FROM points p WINDOW w AS (PARTITION BY p.inmate_id ORDER BY p.t, p.call_id NULLS FIRST)),
bounded AS (
    SELECT i.*, g.gap_start, g.after_call_id, g.next_call_id, g.next_t IS NULL AS ongoing,
           coalesce(g.next_t, CASE WHEN i.status = 'active' THEN $2::timestamptz
                                   ELSE least($2::timestamptz, i.released_on::timestamptz) END) AS gap_end
      FROM gaps g JOIN inm i USING (inmate_id))
SELECT region_id, 'inmate', inmate_id::text, gap_start, ARRAY[facility_id],
       extract(epoch FROM gap_end - gap_start)::float8 / 86400.0, gap_end,
       jsonb_build_object('gap_start', gap_start, 'gap_end', gap_end, 'ongoing', ongoing,
                          'days_without_completed_call', floor(extract(epoch FROM gap_end - gap_start) / 86400.0),
                          'last_completed_call_id', after_call_id, 'next_completed_call_id', next_call_id,
                          'thresholds', jsonb_build_object('max_days', (p->>'max_days')::int))
  FROM bounded
 WHERE gap_end - gap_start > make_interval(days => (p->>'max_days')::int)
   AND gap_end >= $1::timestamptz
   AND (NOT ongoing OR status = 'active')
""")

# Kiosk call events that do not match their booking (another number, no booking, booking not live,
# wrong booth), and kiosk-placed calls without a booking or to a number other than the booked one.
KIOSK_MISMATCH = expand("""
WITH /*prm*/,
bounds AS (SELECT least(detection_bucket($1::timestamptz, 1), $2::timestamptz - interval '1 day') AS lo),
ev AS (
    SELECT e.facility_id, b.inmate_id, 'call_event' AS kind, e.event_id AS record_id, e.occurred_at AS t, e.mismatch AS reason
      FROM call_events e
      LEFT JOIN bookings b ON b.facility_id = e.facility_id AND b.booking_id = e.booking_id
     WHERE e.mismatch IS NOT NULL AND e.occurred_at >= (SELECT lo FROM bounds) AND e.occurred_at < $2::timestamptz
    UNION ALL
    SELECT c.facility_id, coalesce(c.inmate_id, b.inmate_id), 'call', c.call_id, c.started_at,
           CASE WHEN c.booking_id IS NULL THEN 'no_booking' ELSE 'number_not_booked' END
      FROM calls c
      LEFT JOIN bookings b ON b.facility_id = c.facility_id AND b.booking_id = c.booking_id
      LEFT JOIN contacts k ON k.id = b.contact_id
     WHERE c.source = 'kiosk' AND c.started_at >= (SELECT lo FROM bounds) AND c.started_at < $2::timestamptz
       AND (c.booking_id IS NULL OR c.dialled_e164 IS DISTINCT FROM k.phone_e164)),
matched AS (
    SELECT prm.region_id, ev.*, per.period_start
      FROM ev
      JOIN facilities f ON f.id = ev.facility_id
      JOIN prm ON prm.region_id = f.region_id
     CROSS JOIN LATERAL unnest(detection_periods(ev.t, $2::timestamptz, 1)) AS per(period_start)
     WHERE per.period_start >= detection_bucket($1::timestamptz, 1)
       AND ($5::bigint[] IS NULL OR ev.facility_id = ANY($5::bigint[])))
SELECT region_id, CASE WHEN inmate_id IS NULL THEN 'facility' ELSE 'inmate' END,
       coalesce(inmate_id, facility_id)::text, period_start, array_agg(DISTINCT facility_id), count(*)::float8, max(t),
       jsonb_build_object('reasons', array_agg(DISTINCT reason), 'count', count(*),
                          'call_event_ids', array_agg(record_id ORDER BY t) FILTER (WHERE kind = 'call_event'),
                          'call_ids', array_agg(record_id ORDER BY t) FILTER (WHERE kind = 'call'))
  FROM matched
 GROUP BY region_id, inmate_id IS NULL, coalesce(inmate_id, facility_id), period_start
""")
