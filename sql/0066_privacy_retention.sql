-- Retention (issue 21): how long personal data is kept, per region, and the report of what was erased.
-- Defaults are the service's, not the law's: UU 27/2022 sets no number of years; it requires erasure once
-- the purpose is spent (art. 43-44). docs/operations.md gives the reasons for each default.
CREATE TABLE retention_settings (
    region_id                bigint PRIMARY KEY REFERENCES regions (id),
    -- Family numbers of an inmate released this many years ago are erased (complaints, appeals and
    -- investigations about the sentence's calls have had their time).
    released_family_years    integer NOT NULL DEFAULT 2
                             CONSTRAINT retention_released_years_range CHECK (released_family_years BETWEEN 1 AND 10),
    -- Numbers registered but never verified, or rejected, are erased this many days after the last change.
    unverified_contact_days  integer NOT NULL DEFAULT 90
                             CONSTRAINT retention_unverified_days_range CHECK (unverified_contact_days BETWEEN 7 AND 730),
    updated_by               bigint REFERENCES users (id),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE retention_settings IS
    'Per-region retention of personal data; a region without a row keeps the defaults of the column.';

-- One row per erasure: what went, when, why and by whom. Never the number or the name.
CREATE TABLE privacy_erasures (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at      timestamptz NOT NULL DEFAULT now(),
    cause          text NOT NULL CONSTRAINT erasure_cause_known
                   CHECK (cause IN ('request', 'released_family', 'unverified')),
    region_ids     bigint[] NOT NULL,
    facility_ids   bigint[] NOT NULL,
    contacts       integer NOT NULL,
    calls          integer NOT NULL,
    call_events    integer NOT NULL,
    flags          integer NOT NULL,
    key_destroyed  boolean NOT NULL,
    erased_by      bigint REFERENCES users (id)
);
CREATE INDEX privacy_erasures_regions_idx ON privacy_erasures USING gin (region_ids);
COMMENT ON TABLE privacy_erasures IS
    'The erasure report: counts and places only; erased_by is NULL for the retention job.';
