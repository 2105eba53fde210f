-- The verifier checks every row's columns against its canonical text by rebuilding the text in SQL, so
-- the rebuild must be cheap: plain concatenation (one escape per string) instead of json_build_object,
-- and no SET clause, so the planner inlines the function into the verifier's query. The text it produces
-- is byte for byte what 0010's definition produced (json_build_object's '"key" : value, ' layout, jsonb
-- output for the payload); tests/test_audit_log.py holds the two against each other.
CREATE OR REPLACE FUNCTION audit.canonical_entry(
    log_name text, seq bigint, recorded_at timestamptz, actor_type text, actor_id text, actor_role text,
    action text, subject_type text, subject_id text, payload jsonb, request_id text
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '{"action" : ' || pg_catalog.to_json(action)::text
        || ', "actor" : {"id" : ' || coalesce(pg_catalog.to_json(actor_id)::text, 'null')
        || ', "role" : ' || coalesce(pg_catalog.to_json(actor_role)::text, 'null')
        || ', "type" : ' || coalesce(pg_catalog.to_json(actor_type)::text, 'null')
        || '}, "log" : ' || coalesce(pg_catalog.to_json(log_name)::text, 'null')
        || ', "payload" : ' || coalesce(payload::text, 'null')
        || ', "recorded_at" : "' || pg_catalog.to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '", "request_id" : ' || coalesce(pg_catalog.to_json(request_id)::text, 'null')
        || ', "seq" : ' || seq::text
        || ', "subject" : {"id" : ' || coalesce(pg_catalog.to_json(subject_id)::text, 'null')
        || ', "type" : ' || coalesce(pg_catalog.to_json(subject_type)::text, 'null')
        || '}, "v" : 1}'
$$;
