-- Retiring a checkpoint signing key (`wartel audit rotate-key`): from the moment a key is retired its
-- successor signs, and a checkpoint the retired key signed later is reported by verification (a tripwire
-- for a retired private key that was kept or taken: it can no longer sign unnoticed under a current date).
-- Append-only like the keys themselves.
CREATE TABLE audit.key_retirements (
    key_id            text PRIMARY KEY REFERENCES audit.signing_keys (key_id),
    retired_at        timestamptz NOT NULL,
    successor_key_id  text NOT NULL REFERENCES audit.signing_keys (key_id),
    reason            text NOT NULL CONSTRAINT audit_key_retirement_reason_present CHECK (length(btrim(reason)) > 0),
    CONSTRAINT audit_key_retirement_has_successor CHECK (successor_key_id <> key_id)
);
COMMENT ON TABLE audit.key_retirements IS 'Signing keys taken out of use, when, by which key replaced, and why.';

CREATE TRIGGER audit_key_retirements_append_only BEFORE UPDATE OR DELETE ON audit.key_retirements
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER audit_key_retirements_no_truncate BEFORE TRUNCATE ON audit.key_retirements
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- The service reads retirements (verification, exports); rotating is an operator's act, as the owner.
REVOKE ALL ON audit.key_retirements FROM PUBLIC;
GRANT SELECT ON audit.key_retirements TO wartel_app;
