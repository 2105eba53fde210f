-- Cosignatures the witnesses returned for the service's checkpoints (C2SP tlog-cosignature/v1 lines), kept
-- so verification can report which checkpoints each witness cosigned and the service knows from which size
-- to prove consistency at its next submission. They are a convenience, not the evidence: the evidence is
-- the witness's own state, outside this database, which verification fetches from the witness itself.
CREATE TABLE audit.witness_cosignatures (
    log_id       bigint NOT NULL REFERENCES audit.logs (log_id),
    size         bigint NOT NULL CONSTRAINT audit_witness_size_positive CHECK (size >= 1),
    witness      text NOT NULL CONSTRAINT audit_witness_name_present CHECK (length(witness) > 0),
    root_hash    bytea NOT NULL CONSTRAINT audit_witness_root_length CHECK (length(root_hash) = 32),
    cosigned_at  timestamptz NOT NULL,
    cosignature  text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_witness_cosignature_once PRIMARY KEY (log_id, witness, size)
);
COMMENT ON TABLE audit.witness_cosignatures IS 'Witness cosignatures of checkpoints (C2SP tlog-cosignature/v1 lines).';

CREATE TRIGGER audit_witness_cosignatures_append_only BEFORE UPDATE OR DELETE ON audit.witness_cosignatures
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_witness_cosignatures_no_truncate BEFORE TRUNCATE ON audit.witness_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

REVOKE ALL ON audit.witness_cosignatures FROM PUBLIC;
GRANT SELECT, INSERT ON audit.witness_cosignatures TO wartel_app;
