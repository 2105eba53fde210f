-- The entries table rebuilt with the columns verification reads first: log_id, seq, log_name, leaf_hash,
-- canonical, then the searchable columns. PostgreSQL finds a row's n-th column by walking every column
-- before it, and the canonical text was the last of fourteen (added by 0013): that walk was a fifth of the
-- server's work when `wartel audit verify` reads a million entries. Rows are copied in (log, sequence)
-- order, so each log's entries lie together and a verification chunk reads neighbouring pages.
--
-- Same names for the table, its constraints, indexes and triggers, same privileges (the old table's
-- index names are moved aside first: they share the schema's namespace). The canonical text
-- is generated again by the same function from the same columns; the copy is checked to be byte for byte
-- the old one before the old table goes (a leaf hash must never change), and a difference aborts the
-- migration with nothing changed.

ALTER TABLE audit.entries RENAME TO entries_before_0015;
ALTER TABLE audit.entries_before_0015 RENAME CONSTRAINT audit_entries_pkey TO audit_entries_pkey_before_0015;
ALTER INDEX audit.audit_entries_recorded_brin RENAME TO audit_entries_recorded_brin_before_0015;
ALTER INDEX audit.audit_entries_subject_idx RENAME TO audit_entries_subject_idx_before_0015;
ALTER INDEX audit.audit_entries_action_idx RENAME TO audit_entries_action_idx_before_0015;
ALTER INDEX audit.audit_entries_actor_idx RENAME TO audit_entries_actor_idx_before_0015;

CREATE TABLE audit.entries (
    log_id        bigint NOT NULL CONSTRAINT entries_log_id_fkey REFERENCES audit.logs (log_id),
    seq           bigint NOT NULL CONSTRAINT audit_entry_seq_positive CHECK (seq >= 1),
    log_name      text NOT NULL,
    leaf_hash     bytea NOT NULL CONSTRAINT audit_entry_leaf_hash_length CHECK (length(leaf_hash) = 32),
    canonical     text NOT NULL GENERATED ALWAYS AS (
        audit.canonical_text(log_name, seq, recorded_at, actor_type, actor_id, actor_role, action, subject_type,
                             subject_id, payload, request_id)) STORED,
    recorded_at   timestamptz NOT NULL,
    actor_type    text NOT NULL CONSTRAINT audit_entry_actor_type_known CHECK (actor_type IN ('user', 'device', 'system')),
    actor_id      text,
    actor_role    text,
    action        text NOT NULL,
    subject_type  text NOT NULL,
    subject_id    text NOT NULL,
    payload       jsonb NOT NULL,
    request_id    text
);

INSERT INTO audit.entries (log_id, seq, log_name, leaf_hash, recorded_at, actor_type, actor_id, actor_role, action,
                           subject_type, subject_id, payload, request_id)
SELECT log_id, seq, log_name, leaf_hash, recorded_at, actor_type, actor_id, actor_role, action, subject_type,
       subject_id, payload, request_id
  FROM audit.entries_before_0015
 ORDER BY log_id, seq;

ALTER TABLE audit.entries ADD CONSTRAINT audit_entries_pkey PRIMARY KEY (log_id, seq);

DO $$
DECLARE
    v_old bigint;
    v_new bigint;
    v_first record;
BEGIN
    SELECT count(*) INTO v_old FROM audit.entries_before_0015;
    SELECT count(*) INTO v_new FROM audit.entries;
    SELECT o.log_id, o.seq INTO v_first
      FROM audit.entries_before_0015 o JOIN audit.entries n USING (log_id, seq)
     WHERE o.canonical IS DISTINCT FROM n.canonical
     ORDER BY o.log_id, o.seq LIMIT 1;
    IF v_old <> v_new OR v_first IS NOT NULL THEN
        RAISE EXCEPTION 'rebuilding audit.entries would change the hashed text (rows % -> %, first difference at log % seq %)',
            v_old, v_new, v_first.log_id, v_first.seq;
    END IF;
END
$$;

DROP TABLE audit.entries_before_0015;

COMMENT ON COLUMN audit.entries.log_name IS 'scope:scope_id of the log, as the canonical text names it.';
COMMENT ON COLUMN audit.entries.canonical IS 'The exact bytes hashed into the leaf; generated from the columns.';
COMMENT ON COLUMN audit.entries.leaf_hash IS 'RFC 6962 leaf: SHA-256(0x00 || canonical).';
CREATE INDEX audit_entries_recorded_brin ON audit.entries USING brin (recorded_at);
CREATE INDEX audit_entries_subject_idx ON audit.entries (subject_type, subject_id);
CREATE INDEX audit_entries_action_idx ON audit.entries (log_id, action, seq);
CREATE INDEX audit_entries_actor_idx ON audit.entries (actor_id, recorded_at);

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit.entries
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit.entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

REVOKE ALL ON audit.entries FROM PUBLIC;
GRANT SELECT ON audit.entries TO wartel_app;
