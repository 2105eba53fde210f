-- Audit log, part two: one-round-trip append through a SECURITY DEFINER function, signed checkpoints,
-- signing keys and verification results. 0002 stays as it was; everything here is additive.

-- The bytes that are hashed. One definition, used by the append function and by the verifier's check that
-- a row's columns still say what its canonical text says. Keys are in sorted order; the format is that of
-- json_build_object and jsonb output, both fixed since PostgreSQL 9.4. recorded_at is always UTC with
-- microseconds, so the text does not depend on the session's time zone or DateStyle.
CREATE FUNCTION audit.canonical_entry(
    log_name text, seq bigint, recorded_at timestamptz, actor_type text, actor_id text, actor_role text,
    action text, subject_type text, subject_id text, payload jsonb, request_id text
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = '' AS $$
    SELECT pg_catalog.json_build_object(
        'action', action,
        'actor', pg_catalog.json_build_object('id', actor_id, 'role', actor_role, 'type', actor_type),
        'log', log_name,
        'payload', payload,
        'recorded_at', pg_catalog.to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'request_id', request_id,
        'seq', seq,
        'subject', pg_catalog.json_build_object('id', subject_id, 'type', subject_type),
        'v', 1
    )::text
$$;
COMMENT ON FUNCTION audit.canonical_entry IS 'The canonical text of an entry: exactly the bytes behind its leaf hash.';

CREATE FUNCTION audit.log_name(scope text, scope_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT scope || ':' || scope_id $$;

-- The one way the service writes an entry: bump the log's size under its row lock (gapless sequence; the
-- lock is held to the end of the caller's transaction) and insert the entry with its canonical text and
-- leaf hash, all in one round trip. Runs as the owner so the service role needs no UPDATE on audit.logs.
CREATE FUNCTION audit.append_entry(
    p_scope text, p_scope_id bigint, p_actor_type text, p_actor_id text, p_actor_role text, p_action text,
    p_subject_type text, p_subject_id text, p_payload text, p_request_id text,
    OUT log_id bigint, OUT seq bigint, OUT leaf_hash bytea
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_at timestamptz;
    v_payload jsonb := p_payload::jsonb;
    v_canonical text;
BEGIN
    UPDATE audit.logs AS l SET size = l.size + 1
     WHERE l.scope = p_scope AND l.scope_id = p_scope_id
    RETURNING l.log_id, l.size INTO log_id, seq;
    IF NOT FOUND THEN
        INSERT INTO audit.logs AS l (scope, scope_id, size) VALUES (p_scope, p_scope_id, 1)
        ON CONFLICT (scope, scope_id) DO UPDATE SET size = l.size + 1
        RETURNING l.log_id, l.size INTO log_id, seq;
    END IF;
    -- Taken after the lock, so times never run backwards within one log.
    v_at := pg_catalog.clock_timestamp();
    v_canonical := audit.canonical_entry(audit.log_name(p_scope, p_scope_id), seq, v_at, p_actor_type,
                                         p_actor_id, p_actor_role, p_action, p_subject_type, p_subject_id,
                                         v_payload, p_request_id);
    leaf_hash := pg_catalog.sha256('\x00'::bytea || pg_catalog.convert_to(v_canonical, 'UTF8'));
    INSERT INTO audit.entries (log_id, seq, recorded_at, actor_type, actor_id, actor_role, action,
                               subject_type, subject_id, payload, request_id, canonical, leaf_hash)
    VALUES (log_id, seq, v_at, p_actor_type, p_actor_id, p_actor_role, p_action, p_subject_type,
            p_subject_id, v_payload, p_request_id, v_canonical, leaf_hash);
END
$$;
COMMENT ON FUNCTION audit.append_entry IS 'Append one entry in the caller''s transaction; the only write path of the service role.';

-- Signing keys: public halves only. The private key stays in a 0600 file outside the database.
CREATE TABLE audit.signing_keys (
    key_id      text PRIMARY KEY CONSTRAINT audit_signing_key_id_format CHECK (key_id ~ '^[0-9a-f]{16}$'),
    algorithm   text NOT NULL DEFAULT 'ed25519' CONSTRAINT audit_signing_key_algorithm CHECK (algorithm = 'ed25519'),
    public_key  bytea NOT NULL CONSTRAINT audit_signing_key_length CHECK (length(public_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN audit.signing_keys.key_id IS 'First 8 bytes (hex) of SHA-256 of the raw public key.';

-- Signed tree heads: the root of a log's first `size` entries, signed with Ed25519.
CREATE TABLE audit.checkpoints (
    log_id      bigint NOT NULL REFERENCES audit.logs (log_id),
    size        bigint NOT NULL CONSTRAINT audit_checkpoint_size_positive CHECK (size >= 1),
    root_hash   bytea NOT NULL CONSTRAINT audit_checkpoint_root_length CHECK (length(root_hash) = 32),
    signed_at   timestamptz NOT NULL,
    key_id      text NOT NULL REFERENCES audit.signing_keys (key_id),
    signature   bytea NOT NULL CONSTRAINT audit_checkpoint_signature_length CHECK (length(signature) = 64),
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (log_id, size)
);
COMMENT ON TABLE audit.checkpoints IS 'Signed checkpoints; a copy is exported and kept outside the facility.';

-- Outcome of each verification run per log, newest last; reports show the latest.
CREATE TABLE audit.verifications (
    log_id              bigint NOT NULL REFERENCES audit.logs (log_id),
    verified_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    size                bigint NOT NULL,
    ok                  boolean NOT NULL,
    first_bad_seq       bigint,
    checkpoints_checked integer NOT NULL DEFAULT 0,
    detail              text,
    CONSTRAINT audit_verifications_pkey PRIMARY KEY (log_id, verified_at),
    CONSTRAINT audit_verification_bad_seq_when_failed CHECK (ok = (first_bad_seq IS NULL))
);

CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit.checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_signing_keys_append_only BEFORE UPDATE OR DELETE ON audit.signing_keys
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_signing_keys_no_truncate BEFORE TRUNCATE ON audit.signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_verifications_append_only BEFORE UPDATE OR DELETE ON audit.verifications
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_verifications_no_truncate BEFORE TRUNCATE ON audit.verifications
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
-- audit.logs holds only the running size; deleting or truncating it would orphan a log.
CREATE FUNCTION audit.refuse_log_removal() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    RAISE EXCEPTION 'audit logs cannot be removed (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_append_only';
END
$$;
CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit.logs
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_log_removal();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit.logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_log_removal();

-- The service role appends only through audit.append_entry: no direct INSERT (which could claim a sequence
-- number out of turn) and no UPDATE of a log's size.
REVOKE ALL ON audit.logs, audit.entries FROM wartel_app;
GRANT SELECT ON audit.logs, audit.entries, audit.signing_keys TO wartel_app;
GRANT SELECT, INSERT ON audit.checkpoints, audit.verifications TO wartel_app;
GRANT INSERT ON audit.signing_keys TO wartel_app;
REVOKE ALL ON FUNCTION audit.append_entry(text, bigint, text, text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.append_entry(text, bigint, text, text, text, text, text, text, text, text) TO wartel_app;
