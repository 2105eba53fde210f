-- Idempotency keys answer retries for a day (WARTEL_IDEMPOTENCY_KEY_TTL_H), then the expiry job deletes
-- them; this index lets it find the old ones without reading the whole table.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
