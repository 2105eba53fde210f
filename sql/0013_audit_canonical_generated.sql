-- The canonical text becomes a stored generated column: PostgreSQL itself rebuilds it from the row's
-- columns on every insert and on any update (even one made with triggers disabled), so the columns the
-- service searches and shows can never drift from the bytes that are hashed. An edit of any column then
-- shows as a leaf hash that no longer matches its canonical text, at that row; a rewrite that also
-- recomputes the leaf hash shows against the signed checkpoints. The verifier checks once per run that
-- the column is still generated this way, instead of rebuilding the text for every row.
--
-- The log's name joins the row (the generation expression can only read the row itself).

-- IMMUTABLE in fact: the text depends on the arguments alone (UTC with an explicit numeric format,
-- JSON escaping of text and jsonb output do not read any setting); generated columns require it.
CREATE FUNCTION audit.canonical_text(
    log_name text, seq bigint, recorded_at timestamptz, actor_type text, actor_id text, actor_role text,
    action text, subject_type text, subject_id text, payload jsonb, request_id text
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT audit.canonical_entry(log_name, seq, recorded_at, actor_type, actor_id, actor_role, action,
                                 subject_type, subject_id, payload, request_id)
$$;

ALTER TABLE audit.entries ADD COLUMN log_name text;
ALTER TABLE audit.entries DISABLE TRIGGER audit_entries_append_only;
UPDATE audit.entries e SET log_name = audit.log_name(l.scope, l.scope_id) FROM audit.logs l
 WHERE l.log_id = e.log_id;
ALTER TABLE audit.entries ENABLE TRIGGER audit_entries_append_only;
ALTER TABLE audit.entries ALTER COLUMN log_name SET NOT NULL;
COMMENT ON COLUMN audit.entries.log_name IS 'scope:scope_id of the log, as the canonical text names it.';

ALTER TABLE audit.entries DROP COLUMN canonical;
ALTER TABLE audit.entries ADD COLUMN canonical text NOT NULL GENERATED ALWAYS AS (
    audit.canonical_text(log_name, seq, recorded_at, actor_type, actor_id, actor_role, action, subject_type,
                         subject_id, payload, request_id)) STORED;
COMMENT ON COLUMN audit.entries.canonical IS 'The exact bytes hashed into the leaf; generated from the columns.';

CREATE OR REPLACE FUNCTION audit.append_entry(
    p_scope text, p_scope_id bigint, p_actor_type text, p_actor_id text, p_actor_role text, p_action text,
    p_subject_type text, p_subject_id text, p_payload text, p_request_id text,
    OUT log_id bigint, OUT seq bigint, OUT leaf_hash bytea
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    v_at timestamptz;
    v_payload jsonb := p_payload::jsonb;
    v_log text := audit.log_name(p_scope, p_scope_id);
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
    leaf_hash := pg_catalog.sha256('\x00'::bytea || pg_catalog.convert_to(
        audit.canonical_entry(v_log, seq, v_at, p_actor_type, p_actor_id, p_actor_role, p_action, p_subject_type,
                              p_subject_id, v_payload, p_request_id), 'UTF8'));
    INSERT INTO audit.entries (log_id, seq, log_name, recorded_at, actor_type, actor_id, actor_role, action,
                               subject_type, subject_id, payload, request_id, leaf_hash)
    VALUES (log_id, seq, v_log, v_at, p_actor_type, p_actor_id, p_actor_role, p_action, p_subject_type,
            p_subject_id, v_payload, p_request_id, leaf_hash);
END
$$;
