-- Append-only audit log: one gapless sequence per facility (and per region, and one national).
CREATE SCHEMA audit;
COMMENT ON SCHEMA audit IS 'Tamper-evident audit log. The service role may INSERT and SELECT entries, nothing else.';

CREATE TABLE audit.logs (
    log_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope      text NOT NULL CONSTRAINT audit_log_scope_known CHECK (scope IN ('facility', 'region', 'national')),
    scope_id   bigint NOT NULL,
    size       bigint NOT NULL DEFAULT 0 CONSTRAINT audit_log_size_non_negative CHECK (size >= 0),
    CONSTRAINT audit_log_scope_unique UNIQUE (scope, scope_id)
);
COMMENT ON COLUMN audit.logs.size IS 'Entries appended so far; the row lock on it makes each log''s sequence gapless.';

CREATE TABLE audit.entries (
    log_id        bigint NOT NULL REFERENCES audit.logs (log_id),
    seq           bigint NOT NULL CONSTRAINT audit_entry_seq_positive CHECK (seq >= 1),
    recorded_at   timestamptz NOT NULL,
    actor_type    text NOT NULL CONSTRAINT audit_entry_actor_type_known CHECK (actor_type IN ('user', 'device', 'system')),
    actor_id      text,
    actor_role    text,
    action        text NOT NULL,
    subject_type  text NOT NULL,
    subject_id    text NOT NULL,
    payload       jsonb NOT NULL,
    request_id    text,
    canonical     text NOT NULL,
    leaf_hash     bytea NOT NULL CONSTRAINT audit_entry_leaf_hash_length CHECK (length(leaf_hash) = 32),
    CONSTRAINT audit_entries_pkey PRIMARY KEY (log_id, seq)
);
COMMENT ON COLUMN audit.entries.canonical IS 'The exact bytes (UTF-8 JSON, sorted keys) hashed into the leaf.';
COMMENT ON COLUMN audit.entries.leaf_hash IS 'RFC 6962 leaf: SHA-256(0x00 || canonical).';
CREATE INDEX audit_entries_recorded_brin ON audit.entries USING brin (recorded_at);
CREATE INDEX audit_entries_subject_idx ON audit.entries (subject_type, subject_id);
CREATE INDEX audit_entries_action_idx ON audit.entries (log_id, action, seq);
CREATE INDEX audit_entries_actor_idx ON audit.entries (actor_id, recorded_at);

CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_append_only';
END
$$;
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit.entries
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit.entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

REVOKE ALL ON SCHEMA audit FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO wartel_app;
GRANT SELECT, INSERT ON audit.entries TO wartel_app;
GRANT SELECT, INSERT, UPDATE ON audit.logs TO wartel_app;
