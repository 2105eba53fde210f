-- Absence is evidence: every facility, every region and the nation has an audit log from the moment it
-- exists, so verification can hold the set of logs against the registry and report a log that is missing
-- (a superuser who deleted a facility's entries, checkpoints and log row left the facility behind).
--
-- The log row is created with size 0 and no entry: an entry would change what every existing reader of a
-- facility's log counts. A log emptied in place (entries deleted, size set back to 0) is told apart from
-- one nobody used by what lies outside the database: the checkpoints the regional office exported and the
-- witness's cosigned sizes (docs/audit.md, threat model).
INSERT INTO audit.logs (scope, scope_id, size) VALUES ('national', 0, 0) ON CONFLICT (scope, scope_id) DO NOTHING;
INSERT INTO audit.logs (scope, scope_id, size) SELECT 'region', id, 0 FROM public.regions
    ON CONFLICT (scope, scope_id) DO NOTHING;
INSERT INTO audit.logs (scope, scope_id, size) SELECT 'facility', id, 0 FROM public.facilities
    ON CONFLICT (scope, scope_id) DO NOTHING;

-- The service role cannot insert into audit.logs; the trigger runs as the owner, and does only this.
CREATE FUNCTION audit.open_log_for_scope() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    INSERT INTO audit.logs (scope, scope_id, size) VALUES (TG_ARGV[0], NEW.id, 0)
        ON CONFLICT (scope, scope_id) DO NOTHING;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit.open_log_for_scope() FROM PUBLIC;

CREATE TRIGGER region_opens_audit_log AFTER INSERT ON public.regions
    FOR EACH ROW EXECUTE FUNCTION audit.open_log_for_scope('region');
CREATE TRIGGER facility_opens_audit_log AFTER INSERT ON public.facilities
    FOR EACH ROW EXECUTE FUNCTION audit.open_log_for_scope('facility');
