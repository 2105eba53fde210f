-- Crypto-shredding for phone numbers (issue 21). Audit payloads may carry a keyed hash of a number so that
-- entries about the same number can be linked without showing it. With the service's one secret, anyone
-- holding that secret and a number could recompute the hash forever, so erasure would be a fiction. From now
-- on every number gets its own random key; the hash in the log is HMAC(that key, number). Erasing the number
-- deletes its key row: the hash stays in the log (the log is append-only and its hashes must still verify) but
-- nobody can match it to a number any more. Entries written before this migration keep the service-secret
-- hash (their canonical text cannot change); docs/operations.md says so.
CREATE TABLE number_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- HMAC(service secret, number): finds the key from the number without storing the number.
    lookup      bytea NOT NULL CONSTRAINT number_key_lookup_once UNIQUE,
    key         bytea NOT NULL CONSTRAINT number_key_length CHECK (length(key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE number_keys IS
    'One random key per phone number for the keyed hashes in audit payloads; deleting the row shreds them.';
COMMENT ON COLUMN number_keys.lookup IS 'HMAC-SHA-256(service secret, E.164 number); never the number itself.';

-- Erased people: the registry keeps the row (bookings, calls and reports keep their ids) but not the data.
ALTER TABLE contacts
    ALTER COLUMN phone_e164 DROP NOT NULL,
    ALTER COLUMN name DROP NOT NULL,
    ADD COLUMN erased_at timestamptz,
    ADD CONSTRAINT contact_erased_has_no_data CHECK (
        (erased_at IS NULL AND phone_e164 IS NOT NULL AND name IS NOT NULL)
        OR (erased_at IS NOT NULL AND phone_e164 IS NULL AND name IS NULL));
COMMENT ON COLUMN contacts.erased_at IS
    'When the number and name were erased (retention or a data subject''s request); the row stays for its ids.';
