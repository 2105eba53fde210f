-- Detection periods: a record belongs to its own period only (issue 20).
--
-- 0030/0031 also counted the records of the trailing W days towards the period containing the evaluation
-- instant, so that a pattern straddling a period boundary was caught while live. The full rescan, which
-- evaluates as of one later instant, never saw those trailing windows: patterns the live path flagged were
-- missed by backfills and rescans, and the live path keyed some flags to a period the rescan never
-- produced. Now every record belongs to exactly one period whatever the evaluation instant, and rules that
-- count "N events in W days" slide their window over the events themselves (a window ending at each event),
-- so the result for a period depends only on the records before its end: a rescan finds exactly what the
-- live path found. The signature is kept so that every rule keeps calling the one function.
CREATE OR REPLACE FUNCTION detection_periods(t timestamptz, until timestamptz, days integer) RETURNS timestamptz[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ARRAY[detection_bucket(t, days)]
$$;
COMMENT ON FUNCTION detection_periods(timestamptz, timestamptz, integer) IS
    'The detection period (W-day bucket from Monday 2000-01-03 UTC) of a record at t; until is ignored since 0032.';

-- Officer cut-off rate: calls an officer supervised, by officer and time, read per complete week.
CREATE INDEX IF NOT EXISTS calls_supervised_by_idx ON calls (supervised_by, started_at) WHERE supervised_by IS NOT NULL;

-- Upper tail of a Poisson distribution, P(X >= n) for mean lambda: how surprising a count of n actions
-- is when peers do lambda. A modified z over five or six officers' small counts cannot tell a busy week
-- from a pattern; a tail probability can (five overrides against a median of one: 0.004, twelve: 1e-9).
-- Evaluated for candidates only (a sum of n terms), in log space so that large counts do not overflow.
CREATE FUNCTION detection_poisson_sf(n integer, lambda double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN n <= 0 THEN 1.0
                ELSE greatest(0.0, 1.0 - (SELECT sum(exp(k * ln(lambda) - lambda - lf))
                                            FROM (SELECT k, sum(ln(greatest(k, 1))) OVER (ORDER BY k) AS lf
                                                    FROM generate_series(0, n - 1) k) terms)) END
$$;
