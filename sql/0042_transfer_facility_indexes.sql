-- The compliance report finds the inmates a facility held through their transfers in and out of it
-- (wartel/reports/compliance.sql, fragment stays): by origin or destination facility, a bitmap OR of these
-- two instead of a scan of the whole national transfer history.
CREATE INDEX inmate_transfers_from_idx ON inmate_transfers (from_facility_id);
CREATE INDEX inmate_transfers_to_idx ON inmate_transfers (to_facility_id);
