"""Authorisation cases for the registry: regions, facilities, booths, hours, closures, inmates, contacts, users."""

from __future__ import annotations

from tests.authz import EVERYONE, SAME, Case

ADMIN = frozenset({"admin"})
POLICY = frozenset({"regional", "admin"})  # sets hours, facility settings, booths; lifts closures
REGISTRARS = frozenset({"officer", "regional", "admin"})  # registers inmates and contacts
FACILITY = "/api/v1/facilities/{facility_id}"
INMATE = "/api/v1/inmates/{inmate_id}"
CONTACT = "/api/v1/contacts/{contact_id}"

CASES = [
    Case("GET", "/api/v1/regions", EVERYONE, foreign=SAME),
    Case("POST", "/api/v1/regions", ADMIN, body={"code": "{unique_code}", "name": "Kanwil Uji"}, foreign=SAME),
    Case("GET", "/api/v1/regions/{region_id}", EVERYONE),
    Case("GET", "/api/v1/facilities", EVERYONE, foreign=SAME),
    Case("POST", "/api/v1/facilities", ADMIN, body={
        "region_id": "{region_id}", "code": "{unique_code}", "name": "Rutan Uji", "kind": "rutan",
        "time_zone": "Asia/Jayapura"}),
    Case("GET", FACILITY, EVERYONE),
    Case("PATCH", FACILITY, POLICY, body={"slot_minutes": 20}),
    Case("GET", FACILITY + "/booths", EVERYONE),
    Case("POST", FACILITY + "/booths", POLICY, body={"name": "Bilik {unique}", "kind": "video"}),
    Case("PUT", FACILITY + "/booths/{booth_id}/service", EVERYONE, body={"in_service": False, "note": "uji"}),
    Case("GET", FACILITY + "/hours", EVERYONE),
    Case("PUT", FACILITY + "/hours", POLICY, body={"windows": [
        {"weekday": 1, "opens": "08:00", "closes": "12:00"}, {"weekday": 1, "opens": "13:00", "closes": "15:00"}]}),
    Case("GET", FACILITY + "/closures", EVERYONE),
    Case("POST", FACILITY + "/closures", EVERYONE, body={
        "starts": "2026-12-25T00:00", "ends": "2026-12-26T00:00", "kind": "holiday", "reason": "Natal"}),
    Case("DELETE", FACILITY + "/closures/{closure_id}", POLICY, fresh=("closure_id",)),
    Case("GET", "/api/v1/inmates?facility_id={facility_id}", EVERYONE),
    Case("POST", "/api/v1/inmates", REGISTRARS, body={
        "registration_no": "{unique}", "full_name": "Warga Uji", "facility_id": "{facility_id}",
        "admitted_on": "2025-01-02"}),
    # A facility outside your scope reads as unknown in the row report: 422, nothing revealed.
    Case("POST", "/api/v1/inmates/import", REGISTRARS, content_type="text/csv",
         body="registration_no,full_name,facility_code,admitted_on\n{unique},Warga Impor,{facility_code},2025-01-02\n",
         foreign=422),
    Case("GET", INMATE, EVERYONE),
    Case("PATCH", INMATE, REGISTRARS, body={"block": "B-1"}),
    Case("POST", INMATE + "/transfer", REGISTRARS, body={"to_facility_id": "{other_facility_id}"},
         fresh=("inmate_id",)),
    Case("POST", INMATE + "/release", REGISTRARS, body={"released_on": "2026-01-05"}, fresh=("inmate_id",)),
    Case("GET", INMATE + "/transfers", EVERYONE),
    Case("GET", INMATE + "/contacts", EVERYONE),
    Case("POST", INMATE + "/contacts", REGISTRARS, body={"phone": "{unique_phone}", "name": "Keluarga Uji",
                                                         "relation": "sibling"}, fresh=("inmate_id",)),
    Case("GET", CONTACT, EVERYONE),
    Case("POST", CONTACT + "/verify", REGISTRARS, body={"method": "callback"}, fresh=("contact_id",)),
    Case("POST", CONTACT + "/reject", REGISTRARS, body={"reason": "tidak dikenal"}, fresh=("contact_id",)),
    Case("POST", CONTACT + "/revoke", EVERYONE, body={"reason": "nomor dicurigai"}, fresh=("contact_id",)),
    Case("GET", "/api/v1/users", POLICY, foreign=SAME),
    Case("POST", "/api/v1/users", POLICY, body={
        "username": "{unique_name}", "full_name": "Petugas Uji", "role": "officer", "password": "kata-sandi-uji-1",
        "facility_id": "{facility_id}"}),
]
