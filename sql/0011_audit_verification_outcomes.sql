-- A verification can fail without naming an entry (a checkpoint whose signature does not verify), so a
-- failed run need not carry a sequence number; a passed run still never does.
ALTER TABLE audit.verifications DROP CONSTRAINT audit_verification_bad_seq_when_failed;
ALTER TABLE audit.verifications ADD CONSTRAINT audit_verification_bad_seq_only_when_failed
    CHECK (NOT ok OR first_bad_seq IS NULL);
