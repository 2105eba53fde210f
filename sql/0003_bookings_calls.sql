-- Bookings of booth slots and the calls made in them. The contract between booking (schedules),
-- detection and reports: later migrations may add columns, not rename these.

CREATE TABLE bookings (
    facility_id      bigint NOT NULL REFERENCES facilities (id),
    booking_id       bigint GENERATED ALWAYS AS IDENTITY,
    booth_id         bigint NOT NULL,
    inmate_id        bigint NOT NULL REFERENCES inmates (id),
    contact_id       bigint NOT NULL REFERENCES contacts (id),
    slot             tstzrange NOT NULL,
    status           text NOT NULL DEFAULT 'booked' CONSTRAINT booking_status_known CHECK (status IN (
                         'booked', 'checked_in', 'in_call', 'completed', 'time_limited', 'cut_off',
                         'technical_failure', 'not_answered', 'no_show', 'cancelled')),
    allowance        text NOT NULL DEFAULT 'family' CONSTRAINT booking_allowance_known
                     CHECK (allowance IN ('family', 'legal')),
    period_start     date NOT NULL,
    policy_id        bigint,
    policy_version   integer,
    max_minutes      integer NOT NULL CONSTRAINT booking_max_minutes_range CHECK (max_minutes BETWEEN 1 AND 120),
    charged          boolean NOT NULL DEFAULT true,
    is_override      boolean NOT NULL DEFAULT false,
    override_reason  text,
    booked_by        bigint NOT NULL REFERENCES users (id),
    booked_at        timestamptz NOT NULL DEFAULT now(),
    checked_in_by    bigint REFERENCES users (id),
    checked_in_at    timestamptz,
    cancelled_by     bigint REFERENCES users (id),
    cancelled_at     timestamptz,
    cancel_reason    text CONSTRAINT booking_cancel_reason_known
                     CHECK (cancel_reason IN ('inmate', 'family', 'facility', 'technical')),
    cancel_note      text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bookings_pkey PRIMARY KEY (facility_id, booking_id),
    CONSTRAINT booking_booth_fk FOREIGN KEY (facility_id, booth_id) REFERENCES booths (facility_id, booth_id),
    CONSTRAINT booking_slot_bounded CHECK (lower_inc(slot) AND NOT upper_inc(slot) AND NOT isempty(slot)
                                           AND NOT lower_inf(slot) AND NOT upper_inf(slot)),
    CONSTRAINT booking_override_has_reason CHECK (NOT is_override OR length(btrim(override_reason)) > 0),
    CONSTRAINT booking_cancel_has_reason CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL)),
    -- The two concurrency rules of booking live here, not in Python.
    CONSTRAINT booking_booth_no_overlap EXCLUDE USING gist
        (facility_id WITH =, booth_id WITH =, slot WITH &&) WHERE (status <> 'cancelled'),
    CONSTRAINT booking_inmate_no_overlap EXCLUDE USING gist
        (facility_id WITH =, inmate_id WITH =, slot WITH &&) WHERE (status <> 'cancelled')
);
CREATE INDEX bookings_inmate_idx ON bookings (inmate_id, period_start);
CREATE INDEX bookings_status_slot_idx ON bookings (facility_id, status, lower(slot));
COMMENT ON COLUMN bookings.charged IS 'Whether this booking currently counts against the quota of its period.';
COMMENT ON COLUMN bookings.period_start IS 'First day (facility time) of the quota period the booking is charged to.';

CREATE TABLE calls (
    facility_id      bigint NOT NULL REFERENCES facilities (id),
    call_id          bigint GENERATED ALWAYS AS IDENTITY,
    booking_id       bigint,
    booth_id         bigint NOT NULL,
    inmate_id        bigint REFERENCES inmates (id),
    contact_id       bigint REFERENCES contacts (id),
    dialled_e164     text CONSTRAINT call_dialled_e164 CHECK (dialled_e164 ~ '^\+[1-9][0-9]{3,14}$'),
    started_at       timestamptz NOT NULL,
    answered         boolean NOT NULL DEFAULT true,
    ended_at         timestamptz,
    outcome          text CONSTRAINT call_outcome_known CHECK (outcome IN (
                         'completed', 'time_limited', 'cut_off', 'technical_failure', 'not_answered')),
    supervised_by    bigint REFERENCES users (id),
    ended_by         bigint REFERENCES users (id),
    cut_off_reason   text,
    source           text NOT NULL DEFAULT 'officer' CONSTRAINT call_source_known CHECK (source IN ('officer', 'kiosk')),
    CONSTRAINT calls_pkey PRIMARY KEY (facility_id, call_id),
    CONSTRAINT call_booking_fk FOREIGN KEY (facility_id, booking_id) REFERENCES bookings (facility_id, booking_id),
    CONSTRAINT call_booth_fk FOREIGN KEY (facility_id, booth_id) REFERENCES booths (facility_id, booth_id),
    CONSTRAINT call_ends_after_start CHECK (ended_at IS NULL OR ended_at >= started_at),
    CONSTRAINT call_outcome_when_ended CHECK ((ended_at IS NULL) = (outcome IS NULL)),
    CONSTRAINT call_cut_off_has_reason CHECK (outcome IS DISTINCT FROM 'cut_off' OR length(btrim(cut_off_reason)) > 0),
    CONSTRAINT call_one_live_per_booth EXCLUDE USING gist (facility_id WITH =, booth_id WITH =)
        WHERE (ended_at IS NULL)
);
CREATE INDEX calls_inmate_started_idx ON calls (inmate_id, started_at);
CREATE INDEX calls_dialled_started_idx ON calls (dialled_e164, started_at);
CREATE INDEX calls_facility_started_idx ON calls (facility_id, started_at);
CREATE INDEX calls_started_brin ON calls USING brin (started_at);
COMMENT ON COLUMN calls.dialled_e164 IS 'Personal data: the number actually dialled, kept for detection, never logged.';

-- Booth terminals (or the PBX behind them) authenticate with a device token of their own.
CREATE TABLE devices (
    facility_id   bigint NOT NULL REFERENCES facilities (id),
    device_id     bigint GENERATED ALWAYS AS IDENTITY,
    booth_id      bigint NOT NULL,
    name          text NOT NULL,
    token_hash    bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    CONSTRAINT devices_pkey PRIMARY KEY (facility_id, device_id),
    CONSTRAINT device_booth_fk FOREIGN KEY (facility_id, booth_id) REFERENCES booths (facility_id, booth_id),
    CONSTRAINT device_token_unique UNIQUE (facility_id, token_hash)
);
CREATE INDEX devices_token_idx ON devices (token_hash);

CREATE TABLE call_events (
    facility_id      bigint NOT NULL REFERENCES facilities (id),
    event_id         bigint GENERATED ALWAYS AS IDENTITY,
    device_id        bigint NOT NULL,
    booth_id         bigint NOT NULL,
    booking_id       bigint,
    call_id          bigint,
    kind             text NOT NULL CONSTRAINT call_event_kind_known CHECK (kind IN ('dialled', 'connected', 'disconnected')),
    dialled_e164     text,
    occurred_at      timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    accepted         boolean NOT NULL,
    mismatch         text CONSTRAINT call_event_mismatch_known
                     CHECK (mismatch IN ('number_not_booked', 'no_booking', 'booking_not_live', 'wrong_booth')),
    CONSTRAINT call_events_pkey PRIMARY KEY (facility_id, event_id)
);
CREATE INDEX call_events_mismatch_idx ON call_events (facility_id, occurred_at) WHERE mismatch IS NOT NULL;
