-- Anomaly detection: rule parameters per region, flags with evidence, review history, watchlist and the
-- incremental detector's watermarks. Flags are regional objects (a shared number spans facilities), so
-- they carry region_id in their key and the facilities involved in facility_ids, not a facility_id.

CREATE TABLE detection_rule_params (
    region_id   bigint NOT NULL REFERENCES regions (id),
    rule_id     text NOT NULL CONSTRAINT detection_rule_params_rule_format CHECK (rule_id ~ '^[a-z_]{3,40}$'),
    params      jsonb NOT NULL DEFAULT '{}' CONSTRAINT detection_rule_params_object CHECK (jsonb_typeof(params) = 'object'),
    enabled     boolean NOT NULL DEFAULT true,
    updated_by  bigint REFERENCES users (id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT detection_rule_params_pkey PRIMARY KEY (region_id, rule_id)
);
COMMENT ON TABLE detection_rule_params IS 'Per-region overrides of a rule''s catalogue defaults; absent keys keep the default.';

CREATE TABLE detection_flags (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id         text NOT NULL,
    rule_version    integer NOT NULL,
    region_id       bigint REFERENCES regions (id),
    subject_type    text NOT NULL CONSTRAINT detection_flag_subject_known
                    CHECK (subject_type IN ('inmate', 'number', 'prefix', 'officer', 'facility', 'region')),
    subject_key     text NOT NULL,
    period_start    timestamptz NOT NULL,
    facility_ids    bigint[] NOT NULL,
    severity        text NOT NULL CONSTRAINT detection_flag_severity_known CHECK (severity IN ('low', 'medium', 'high')),
    weight          numeric(6, 2) NOT NULL,
    metric          double precision,
    evidence        jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'open'
                    CONSTRAINT detection_flag_status_known CHECK (status IN ('open', 'acknowledged', 'confirmed', 'dismissed')),
    assigned_to     bigint REFERENCES users (id),
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_event_at   timestamptz NOT NULL,
    reviewed_by     bigint REFERENCES users (id),
    reviewed_at     timestamptz,
    review_reason   text,
    -- region_id is NULL only for national-log subjects (a blocked change to the national audit log).
    CONSTRAINT detection_flag_key UNIQUE NULLS NOT DISTINCT (rule_id, region_id, subject_type, subject_key, period_start),
    CONSTRAINT detection_flag_dismiss_has_reason CHECK (status <> 'dismissed' OR length(btrim(review_reason)) > 0),
    CONSTRAINT detection_flag_closed_has_reviewer CHECK (status NOT IN ('confirmed', 'dismissed') OR reviewed_by IS NOT NULL)
);
COMMENT ON COLUMN detection_flags.period_start IS 'Start of the rule''s period (or episode) the flag covers; part of the idempotency key.';
COMMENT ON COLUMN detection_flags.evidence IS 'What a reviewer needs: record ids, counts, thresholds crossed, rule version. Numbers only as subject.';
COMMENT ON COLUMN detection_flags.last_event_at IS 'Time of the latest triggering record; the 30-day composite score counts flags by it.';
CREATE INDEX detection_flags_queue_idx ON detection_flags (region_id, status, last_event_at DESC);
CREATE INDEX detection_flags_facilities_idx ON detection_flags USING gin (facility_ids);
CREATE INDEX detection_flags_subject_idx ON detection_flags (subject_type, subject_key, last_event_at);

CREATE TABLE detection_flag_events (
    flag_id      bigint NOT NULL REFERENCES detection_flags (id),
    event_id     bigint GENERATED ALWAYS AS IDENTITY,
    kind         text NOT NULL CONSTRAINT detection_flag_event_kind_known
                 CHECK (kind IN ('acknowledged', 'confirmed', 'dismissed', 'assigned', 'note', 'reopened')),
    from_status  text,
    to_status    text,
    note         text,
    assigned_to  bigint REFERENCES users (id),
    actor_id     bigint REFERENCES users (id),
    at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT detection_flag_events_pkey PRIMARY KEY (flag_id, event_id),
    CONSTRAINT detection_flag_note_has_text CHECK (kind <> 'note' OR length(btrim(note)) > 0)
);
COMMENT ON TABLE detection_flag_events IS 'Review history of a flag: transitions, assignments and notes (each also an audit record).';

CREATE TABLE watchlist (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope          text NOT NULL CONSTRAINT watchlist_scope_known CHECK (scope IN ('facility', 'region', 'national')),
    scope_id       bigint NOT NULL,
    pattern_kind   text NOT NULL CONSTRAINT watchlist_pattern_kind_known CHECK (pattern_kind IN ('number', 'prefix')),
    pattern        text NOT NULL CONSTRAINT watchlist_pattern_format CHECK (pattern ~ '^\+[1-9][0-9]{3,14}$'),
    mode           text NOT NULL CONSTRAINT watchlist_mode_known CHECK (mode IN ('blocked', 'watched')),
    reason         text NOT NULL CONSTRAINT watchlist_reason_present CHECK (length(btrim(reason)) > 0),
    source_flag_id bigint REFERENCES detection_flags (id),
    created_by     bigint REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    removed_by     bigint REFERENCES users (id),
    removed_at     timestamptz,
    CONSTRAINT watchlist_national_scope_zero CHECK (scope <> 'national' OR scope_id = 0),
    CONSTRAINT watchlist_removal_complete CHECK ((removed_at IS NULL) = (removed_by IS NULL))
);
CREATE UNIQUE INDEX watchlist_entry_once ON watchlist (scope, scope_id, pattern_kind, pattern) WHERE removed_at IS NULL;
CREATE INDEX watchlist_pattern_idx ON watchlist (pattern) WHERE removed_at IS NULL;
COMMENT ON COLUMN watchlist.pattern IS 'E.164 number, or a prefix of one (matches every number starting with it). Personal data.';

-- One row per change source the incremental detector follows. Times, not ids: rows are read again over
-- an overlap so that a transaction committing late (its now() earlier than its commit) is not missed;
-- rereading is harmless because flags are upserted.
CREATE TABLE detection_watermarks (
    source      text PRIMARY KEY CONSTRAINT detection_watermark_source_format CHECK (source ~ '^[a-z_]+(:[a-z_]+)?$'),
    watermark   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE detection_watermarks IS 'Change sources (calls, contacts, bookings, audit, call_events) and rule:<id> sweep times.';

CREATE TABLE detection_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CONSTRAINT detection_run_kind_known CHECK (kind IN ('full', 'incremental')),
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    since        timestamptz,
    flags_upserted integer NOT NULL,
    per_rule     jsonb NOT NULL
);
CREATE INDEX detection_runs_started_idx ON detection_runs (kind, started_at DESC);

-- The change feeds the incremental detector reads, and the lookups the rules make.
CREATE INDEX calls_ended_at_idx ON calls (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX calls_ended_by_idx ON calls (ended_by, ended_at) WHERE ended_by IS NOT NULL;
CREATE INDEX contacts_created_at_idx ON contacts (created_at);
CREATE INDEX contacts_updated_at_idx ON contacts (updated_at);
CREATE INDEX bookings_updated_at_idx ON bookings (updated_at);
CREATE INDEX bookings_booked_by_idx ON bookings (booked_by, booked_at);
CREATE INDEX call_events_received_idx ON call_events (received_at);
CREATE INDEX users_phone_idx ON users (phone_e164) WHERE phone_e164 IS NOT NULL;

-- Periods: a rule with a window of W days keys its flags by W-day buckets from a fixed Monday, so a rerun
-- finds the same key. Records in the trailing W days before `until` also count towards the bucket that
-- contains `until`, so a pattern straddling a bucket boundary is still caught while it is live.
CREATE FUNCTION detection_bucket(t timestamptz, days integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT timestamptz '2000-01-03 00:00:00+00'
           + make_interval(days => days * floor(extract(epoch FROM t - timestamptz '2000-01-03 00:00:00+00')
                                                / (86400.0 * days))::integer)
$$;

CREATE FUNCTION detection_periods(t timestamptz, until timestamptz, days integer) RETURNS timestamptz[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t >= until - make_interval(days => days)
                     AND detection_bucket(t, days) < detection_bucket(until, days)
                THEN ARRAY[detection_bucket(t, days), detection_bucket(until, days)]
                ELSE ARRAY[detection_bucket(t, days)] END
$$;

-- Median of a small array (a few weeks of counts, a facility's officers): percentile_cont over unnest.
CREATE FUNCTION detection_median(v double precision[]) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(v) AS x
$$;

-- Iglewicz-Hoaglin modified z of x against v: 0.6745 (x - median) / MAD; when MAD is 0 the mean absolute
-- deviation stands in (scaled by 1.253314, as they recommend); both are floored so that a perfectly
-- regular history does not turn a difference of one call into an infinite z.
CREATE FUNCTION detection_modified_z(x double precision, v double precision[], floor_mad double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH m AS (SELECT detection_median(v) AS med),
    d AS (SELECT m.med,
                 (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(y - m.med)) FROM unnest(v) y) AS mad,
                 (SELECT avg(abs(y - m.med)) FROM unnest(v) y) AS meanad
            FROM m)
    SELECT CASE WHEN d.mad > 0 THEN 0.6745 * (x - d.med) / greatest(d.mad, floor_mad)
                WHEN d.meanad > 0 THEN (x - d.med) / greatest(1.253314 * d.meanad, floor_mad / 0.6745)
                ELSE 0.6745 * (x - d.med) / floor_mad END
      FROM d
$$;
