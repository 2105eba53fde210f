-- Monthly compliance reports, produced on schedule per region and kept as they were produced.

CREATE TABLE compliance_reports (
    region_id     bigint NOT NULL REFERENCES regions (id),
    month         date NOT NULL CONSTRAINT compliance_report_month_first_day CHECK (extract(day FROM month) = 1),
    generated_at  timestamptz NOT NULL DEFAULT now(),
    generated_by  text NOT NULL DEFAULT 'schedule',
    body          jsonb NOT NULL,
    CONSTRAINT compliance_reports_pkey PRIMARY KEY (region_id, month)
);
COMMENT ON TABLE compliance_reports IS 'One stored compliance report per region and calendar month (facility-local days).';
COMMENT ON COLUMN compliance_reports.body IS 'The report as the API returns it (JSON); names of inmates without calls included.';
