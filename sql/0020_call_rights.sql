-- Call rights: versioned policies (national default, region, facility override, by risk level), sanctions,
-- the quota ledger that makes "no overdraw under any concurrency" a named CHECK, and the extra columns the
-- booking and call lifecycle need on the contract tables of 0003.

-- A policy is a key (scope, risk level, allowance); its settings live in immutable versions, and a booking
-- records the (policy_id, version) it was made under. Scope columns are named scope_* (like users) because
-- a policy is not facility-owned data: a region's policy covers many facilities.
CREATE TABLE call_policies (
    policy_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope              text NOT NULL CONSTRAINT call_policy_scope_known CHECK (scope IN ('national', 'region', 'facility')),
    scope_region_id    bigint REFERENCES regions (id),
    scope_facility_id  bigint REFERENCES facilities (id),
    risk_level         text CONSTRAINT call_policy_risk_level_known CHECK (risk_level IN ('low', 'medium', 'high')),
    allowance          text NOT NULL CONSTRAINT call_policy_allowance_known CHECK (allowance IN ('family', 'legal')),
    current_version    integer NOT NULL DEFAULT 1 CONSTRAINT call_policy_version_positive CHECK (current_version >= 1),
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT call_policy_scope_matches CHECK (
        (scope = 'national' AND scope_region_id IS NULL AND scope_facility_id IS NULL) OR
        (scope = 'region' AND scope_region_id IS NOT NULL AND scope_facility_id IS NULL) OR
        (scope = 'facility' AND scope_region_id IS NULL AND scope_facility_id IS NOT NULL)),
    CONSTRAINT call_policy_key_unique UNIQUE NULLS NOT DISTINCT
        (scope, scope_region_id, scope_facility_id, risk_level, allowance)
);
COMMENT ON TABLE call_policies IS 'Call rights policy keys; the most specific one applies (facility > region > national, risk level > any).';
COMMENT ON COLUMN call_policies.risk_level IS 'NULL: applies to every risk level not covered by a more specific policy.';

CREATE TABLE call_policy_versions (
    policy_id              bigint NOT NULL REFERENCES call_policies (policy_id),
    version                integer NOT NULL CONSTRAINT call_policy_versions_version_positive CHECK (version >= 1),
    period                 text NOT NULL CONSTRAINT call_policy_period_known CHECK (period IN ('week', 'month')),
    calls_allowed          integer NOT NULL CONSTRAINT call_policy_calls_allowed_range CHECK (calls_allowed BETWEEN 0 AND 100),
    max_minutes            integer NOT NULL CONSTRAINT call_policy_max_minutes_range CHECK (max_minutes BETWEEN 1 AND 120),
    min_lead_minutes       integer NOT NULL CONSTRAINT call_policy_min_lead_range CHECK (min_lead_minutes BETWEEN 0 AND 20160),
    max_days_ahead         integer NOT NULL CONSTRAINT call_policy_max_days_ahead_range CHECK (max_days_ahead BETWEEN 0 AND 90),
    cancel_cutoff_minutes  integer NOT NULL CONSTRAINT call_policy_cancel_cutoff_range CHECK (cancel_cutoff_minutes BETWEEN 0 AND 20160),
    no_show_consumes       boolean NOT NULL,
    booth_kinds            text[] NOT NULL CONSTRAINT call_policy_booth_kinds_known
                           CHECK (cardinality(booth_kinds) >= 1 AND booth_kinds <@ ARRAY['phone', 'video']::text[]),
    note                   text,
    created_by             bigint REFERENCES users (id),
    created_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT call_policy_versions_pkey PRIMARY KEY (policy_id, version)
);
COMMENT ON TABLE call_policy_versions IS 'Immutable settings of each policy version; bookings keep the version they were made under.';

-- The built-in national defaults (documented in docs/booking.md); admins change them by adding versions.
WITH fam AS (
    INSERT INTO call_policies (scope, allowance) VALUES ('national', 'family') RETURNING policy_id
), legal AS (
    INSERT INTO call_policies (scope, allowance) VALUES ('national', 'legal') RETURNING policy_id
)
INSERT INTO call_policy_versions (policy_id, version, period, calls_allowed, max_minutes, min_lead_minutes,
                                  max_days_ahead, cancel_cutoff_minutes, no_show_consumes, booth_kinds, note)
SELECT policy_id, 1, 'week', 2, 15, 60, 14, 120, true, ARRAY['phone', 'video'], 'built-in default' FROM fam
UNION ALL
SELECT policy_id, 1, 'week', 3, 30, 60, 14, 60, false, ARRAY['phone', 'video'], 'built-in default' FROM legal;

-- Sanctions restrict an inmate's family calls for a time (legal-counsel calls are never restricted).
CREATE TABLE sanctions (
    sanction_id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inmate_id               bigint NOT NULL REFERENCES inmates (id),
    imposed_at_facility_id  bigint NOT NULL REFERENCES facilities (id),
    kind                    text NOT NULL CONSTRAINT sanction_kind_known CHECK (kind IN ('suspend', 'reduce')),
    during                  tstzrange NOT NULL CONSTRAINT sanction_during_bounded
                            CHECK (NOT isempty(during) AND NOT lower_inf(during) AND NOT upper_inf(during)),
    reason                  text NOT NULL CONSTRAINT sanction_reason_present CHECK (length(btrim(reason)) > 0),
    calls_allowed           integer CONSTRAINT sanction_calls_allowed_range CHECK (calls_allowed BETWEEN 0 AND 100),
    max_minutes             integer CONSTRAINT sanction_max_minutes_range CHECK (max_minutes BETWEEN 1 AND 120),
    created_by              bigint NOT NULL REFERENCES users (id),
    created_at              timestamptz NOT NULL DEFAULT now(),
    lifted_at               timestamptz,
    lifted_by               bigint REFERENCES users (id),
    lift_reason             text,
    CONSTRAINT sanction_reduce_says_how CHECK (
        kind <> 'reduce' OR calls_allowed IS NOT NULL OR max_minutes IS NOT NULL),
    CONSTRAINT sanction_lift_has_reason CHECK (
        (lifted_at IS NULL) = (lift_reason IS NULL) AND (lifted_at IS NULL) = (lifted_by IS NULL))
);
CREATE INDEX sanctions_inmate_idx ON sanctions USING gist (inmate_id, during);

-- One row per (inmate, allowance, period): the row lock serialises an inmate's concurrent bookings and the
-- CHECK makes an overdraw impossible even if a code path forgets to look.
CREATE TABLE quota_ledger (
    inmate_id     bigint NOT NULL REFERENCES inmates (id),
    allowance     text NOT NULL CONSTRAINT quota_ledger_allowance_known CHECK (allowance IN ('family', 'legal')),
    period        text NOT NULL CONSTRAINT quota_ledger_period_known CHECK (period IN ('week', 'month')),
    period_start  date NOT NULL,
    allowed       integer NOT NULL CONSTRAINT quota_ledger_allowed_non_negative CHECK (allowed >= 0),
    used          integer NOT NULL DEFAULT 0 CONSTRAINT quota_ledger_used_non_negative CHECK (used >= 0),
    overrides     integer NOT NULL DEFAULT 0 CONSTRAINT quota_ledger_overrides_non_negative CHECK (overrides >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT quota_ledger_pkey PRIMARY KEY (inmate_id, allowance, period, period_start),
    CONSTRAINT quota_ledger_within_allowance CHECK (used <= allowed)
);
COMMENT ON COLUMN quota_ledger.allowed IS 'Calls allowed in the period as of the last charge (policy and sanctions applied).';
COMMENT ON COLUMN quota_ledger.overrides IS 'Officer-override bookings in the period; they are not charged to the quota.';

-- Limits at the booth and contact level ("most restrictive wins"); NULL means no limit of its own.
ALTER TABLE booths ADD COLUMN max_call_minutes integer
    CONSTRAINT booth_max_call_minutes_range CHECK (max_call_minutes BETWEEN 1 AND 120);
ALTER TABLE contacts ADD COLUMN max_call_minutes integer
    CONSTRAINT contact_max_call_minutes_range CHECK (max_call_minutes BETWEEN 1 AND 120);

ALTER TABLE bookings ADD COLUMN period text NOT NULL DEFAULT 'week'
    CONSTRAINT booking_period_known CHECK (period IN ('week', 'month'));
ALTER TABLE bookings ADD COLUMN refunded boolean NOT NULL DEFAULT false;
ALTER TABLE bookings ADD COLUMN ended_at timestamptz;
ALTER TABLE bookings ADD CONSTRAINT booking_policy_version_fk
    FOREIGN KEY (policy_id, policy_version) REFERENCES call_policy_versions (policy_id, version);
COMMENT ON COLUMN bookings.refunded IS 'The charge was given back (technical failure, not answered, facility cancellation, ...).';
-- Booking ids are identities, unique on their own; the API addresses a booking by its id.
CREATE INDEX bookings_booking_id_idx ON bookings (booking_id);
CREATE INDEX bookings_live_idx ON bookings (facility_id, lower(slot)) WHERE status IN ('booked', 'checked_in', 'in_call');

ALTER TABLE calls ADD COLUMN limit_at timestamptz;
COMMENT ON COLUMN calls.limit_at IS 'When the call must end: start + allowed minutes, never past the slot (a late start does not extend it).';
CREATE INDEX calls_live_idx ON calls (limit_at) WHERE ended_at IS NULL;
CREATE INDEX calls_booking_idx ON calls (facility_id, booking_id);

ALTER TABLE call_events ADD COLUMN detail text;
COMMENT ON COLUMN call_events.detail IS 'Non-personal detail from the terminal (disconnect cause); never a number or a name.';
