-- Registry: regions, facilities, booths, hours, closures, inmates, contacts, users.
-- Rule for every facility-owned table: facility_id is part of the primary key and of every unique or
-- exclusion constraint, so the schema can be distributed by facility (docs/architecture.md).

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The service connects as wartel_app: ordinary DML on domain tables, INSERT/SELECT only on the audit log.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wartel_app') THEN
        CREATE ROLE wartel_app LOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another database on this cluster created it at the same moment
END
$$;

CREATE TYPE timerange AS RANGE (subtype = time);

CREATE TABLE regions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL CONSTRAINT region_code_unique UNIQUE
                CONSTRAINT region_code_format CHECK (code ~ '^[A-Z0-9-]{2,20}$'),
    name        text NOT NULL CONSTRAINT region_name_present CHECK (length(btrim(name)) > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE regions IS 'Regional offices (Kanwil Ditjenpas), one per province.';

CREATE TABLE facilities (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region_id            bigint NOT NULL REFERENCES regions (id),
    code                 text NOT NULL CONSTRAINT facility_code_unique UNIQUE
                         CONSTRAINT facility_code_format CHECK (code ~ '^[A-Z0-9-]{2,30}$'),
    name                 text NOT NULL CONSTRAINT facility_name_present CHECK (length(btrim(name)) > 0),
    kind                 text NOT NULL CONSTRAINT facility_kind_known
                         CHECK (kind IN ('lapas', 'rutan', 'lpka', 'lapas_perempuan', 'bapas')),
    class                text CONSTRAINT facility_class_known CHECK (class IN ('I', 'IIA', 'IIB', 'III')),
    time_zone            text NOT NULL CONSTRAINT facility_time_zone_indonesian
                         CHECK (time_zone IN ('Asia/Jakarta', 'Asia/Pontianak', 'Asia/Makassar', 'Asia/Jayapura')),
    slot_minutes         integer NOT NULL DEFAULT 15
                         CONSTRAINT facility_slot_minutes_range CHECK (slot_minutes BETWEEN 5 AND 60),
    family_contact_cap   integer NOT NULL DEFAULT 10
                         CONSTRAINT facility_family_contact_cap_range CHECK (family_contact_cap BETWEEN 1 AND 50),
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX facilities_region_idx ON facilities (region_id);
COMMENT ON COLUMN facilities.time_zone IS 'IANA zone; every schedule of the facility is read in it (WIB/WITA/WIT).';

CREATE TABLE booths (
    facility_id     bigint NOT NULL REFERENCES facilities (id),
    booth_id        bigint GENERATED ALWAYS AS IDENTITY,
    name            text NOT NULL CONSTRAINT booth_name_present CHECK (length(btrim(name)) > 0),
    kind            text NOT NULL CONSTRAINT booth_kind_known CHECK (kind IN ('phone', 'video')),
    in_service      boolean NOT NULL DEFAULT true,
    service_note    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT booths_pkey PRIMARY KEY (facility_id, booth_id),
    CONSTRAINT booth_name_unique UNIQUE (facility_id, name)
);

CREATE TABLE opening_hours (
    facility_id  bigint NOT NULL REFERENCES facilities (id),
    weekday      smallint NOT NULL CONSTRAINT opening_hours_weekday_iso CHECK (weekday BETWEEN 1 AND 7),
    opens        time NOT NULL,
    closes       time NOT NULL,
    CONSTRAINT opening_hours_pkey PRIMARY KEY (facility_id, weekday, opens),
    CONSTRAINT opening_hours_window_order CHECK (closes > opens),
    CONSTRAINT opening_hours_no_overlap
        EXCLUDE USING gist (facility_id WITH =, weekday WITH =, timerange(opens, closes) WITH &&)
);
COMMENT ON TABLE opening_hours IS 'Kiosk windows per ISO weekday (1 = Monday) in the facility''s own time zone.';

CREATE TABLE closures (
    facility_id  bigint NOT NULL REFERENCES facilities (id),
    closure_id   bigint GENERATED ALWAYS AS IDENTITY,
    during       tstzrange NOT NULL CONSTRAINT closure_not_empty CHECK (NOT isempty(during)),
    kind         text NOT NULL DEFAULT 'closure' CONSTRAINT closure_kind_known CHECK (kind IN ('holiday', 'closure')),
    reason       text NOT NULL CONSTRAINT closure_reason_present CHECK (length(btrim(reason)) > 0),
    created_by   bigint,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT closures_pkey PRIMARY KEY (facility_id, closure_id)
);
CREATE INDEX closures_during_idx ON closures USING gist (facility_id, during);

CREATE TABLE inmates (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_no      text NOT NULL CONSTRAINT inmate_registration_no_unique UNIQUE
                         CONSTRAINT inmate_registration_no_format CHECK (registration_no ~ '^[A-Za-z0-9./-]{3,40}$'),
    full_name            text NOT NULL CONSTRAINT inmate_name_present CHECK (length(btrim(full_name)) > 0),
    block                text,
    risk_level           text NOT NULL DEFAULT 'medium'
                         CONSTRAINT inmate_risk_level_known CHECK (risk_level IN ('low', 'medium', 'high')),
    status               text NOT NULL DEFAULT 'active'
                         CONSTRAINT inmate_status_known CHECK (status IN ('active', 'transferred', 'released')),
    admitted_on          date NOT NULL,
    released_on          date,
    current_facility_id  bigint NOT NULL REFERENCES facilities (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT inmate_release_date_when_released CHECK ((status = 'released') = (released_on IS NOT NULL)),
    CONSTRAINT inmate_release_after_admission CHECK (released_on IS NULL OR released_on >= admitted_on)
);
-- Keyset pagination and search within a facility.
CREATE INDEX inmates_facility_idx ON inmates (current_facility_id, id);
CREATE INDEX inmates_name_idx ON inmates (current_facility_id, lower(full_name) text_pattern_ops);
COMMENT ON TABLE inmates IS 'Warga binaan. National registry: an inmate keeps one row across transfers.';

CREATE TABLE inmate_transfers (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inmate_id         bigint NOT NULL REFERENCES inmates (id),
    from_facility_id  bigint NOT NULL REFERENCES facilities (id),
    to_facility_id    bigint NOT NULL REFERENCES facilities (id),
    transferred_at    timestamptz NOT NULL DEFAULT now(),
    reason            text,
    created_by        bigint,
    CONSTRAINT transfer_to_another_facility CHECK (from_facility_id <> to_facility_id)
);
CREATE INDEX inmate_transfers_inmate_idx ON inmate_transfers (inmate_id, transferred_at);

CREATE TABLE contacts (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inmate_id            bigint NOT NULL REFERENCES inmates (id),
    phone_e164           text NOT NULL CONSTRAINT contact_phone_e164 CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
    name                 text NOT NULL CONSTRAINT contact_name_present CHECK (length(btrim(name)) > 0),
    relation             text NOT NULL CONSTRAINT contact_relation_known
                         CHECK (relation IN ('spouse', 'parent', 'child', 'sibling', 'relative', 'guardian',
                                             'legal_counsel', 'other')),
    is_legal_counsel     boolean NOT NULL DEFAULT false,
    status               text NOT NULL DEFAULT 'pending'
                         CONSTRAINT contact_status_known CHECK (status IN ('pending', 'verified', 'rejected', 'revoked')),
    verification_method  text CONSTRAINT contact_verification_method_known
                         CHECK (verification_method IN ('ktp', 'callback', 'in_person', 'bar_card')),
    verified_by          bigint,
    verified_at          timestamptz,
    status_reason        text,
    created_by           bigint,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT contact_verified_has_who_how_when CHECK (
        status <> 'verified' OR (verified_by IS NOT NULL AND verified_at IS NOT NULL AND verification_method IS NOT NULL)),
    CONSTRAINT contact_refusal_has_reason CHECK (status NOT IN ('rejected', 'revoked') OR status_reason IS NOT NULL),
    CONSTRAINT contact_counsel_relation CHECK (is_legal_counsel = (relation = 'legal_counsel'))
);
CREATE UNIQUE INDEX contact_number_once_per_inmate ON contacts (inmate_id, phone_e164)
    WHERE status IN ('pending', 'verified');
CREATE INDEX contacts_phone_idx ON contacts (phone_e164);
COMMENT ON COLUMN contacts.phone_e164 IS 'Personal data: never logged in clear, never copied into the audit log.';

-- The family-contact cap must hold under concurrent registrations: lock the inmate row, then count.
CREATE FUNCTION enforce_family_contact_cap() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cap integer;
    active integer;
BEGIN
    IF NEW.is_legal_counsel OR NEW.status NOT IN ('pending', 'verified') THEN
        RETURN NEW;
    END IF;
    SELECT f.family_contact_cap INTO cap
      FROM inmates i JOIN facilities f ON f.id = i.current_facility_id
     WHERE i.id = NEW.inmate_id
       FOR UPDATE OF i;
    SELECT count(*) INTO active FROM contacts
     WHERE inmate_id = NEW.inmate_id AND NOT is_legal_counsel AND status IN ('pending', 'verified')
       AND id IS DISTINCT FROM NEW.id;
    IF active >= cap THEN
        RAISE EXCEPTION 'family contact cap of % reached', cap
            USING ERRCODE = 'check_violation', CONSTRAINT = 'contact_family_cap';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER contacts_family_cap BEFORE INSERT OR UPDATE OF status, is_legal_counsel ON contacts
    FOR EACH ROW EXECUTE FUNCTION enforce_family_contact_cap();

CREATE TABLE users (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username           text NOT NULL CONSTRAINT user_username_format CHECK (username ~ '^[a-z0-9._-]{3,40}$'),
    full_name          text NOT NULL,
    password_hash      text NOT NULL,
    role               text NOT NULL CONSTRAINT user_role_known CHECK (role IN ('officer', 'security', 'regional', 'admin')),
    scope_facility_id  bigint REFERENCES facilities (id),
    scope_region_id    bigint REFERENCES regions (id),
    phone_e164         text CONSTRAINT user_phone_e164 CHECK (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
    shift_starts       time,
    shift_ends         time,
    active             boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_username_unique UNIQUE (username),
    -- officer: one facility; security: a facility or a region; regional: a region; admin: everything.
    CONSTRAINT user_scope_matches_role CHECK (
        (role = 'officer' AND scope_facility_id IS NOT NULL AND scope_region_id IS NULL) OR
        (role = 'security' AND (scope_facility_id IS NULL) <> (scope_region_id IS NULL)) OR
        (role = 'regional' AND scope_facility_id IS NULL AND scope_region_id IS NOT NULL) OR
        (role = 'admin' AND scope_facility_id IS NULL AND scope_region_id IS NULL))
);
COMMENT ON COLUMN users.phone_e164 IS 'A staff member''s own number: calls to it are flagged (staff-number rule).';

CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    csrf_token   text NOT NULL,
    language     text NOT NULL DEFAULT 'id' CONSTRAINT session_language_known CHECK (language IN ('id', 'en')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id),
    name          text NOT NULL,
    token_hash    bytea NOT NULL CONSTRAINT api_token_hash_unique UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

CREATE TABLE login_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    text NOT NULL,
    remote      text,
    succeeded   boolean NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_username_idx ON login_attempts (username, at);

-- A retried create returns its first response; the key row is written in the create's own transaction.
CREATE TABLE idempotency_keys (
    principal        text NOT NULL,
    key              text NOT NULL CONSTRAINT idempotency_key_length CHECK (length(key) BETWEEN 1 AND 200),
    request_hash     text NOT NULL,
    response_status  integer,
    response_body    jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (principal, key)
);

GRANT USAGE ON SCHEMA public TO wartel_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO wartel_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO wartel_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO wartel_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO wartel_app;
-- The migrations table is the owner's business.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM wartel_app;
