"""The compliance report's shape: the JSON the API returns, the CSV and the HTML are drawn from it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from wartel.http.models import OutModel


class ReportScope(OutModel):
    kind: Literal["region", "facility"]
    region_id: int
    region_code: str
    region_name: str
    facility_id: int | None = None
    facility_code: str | None = None


class ReportPeriod(OutModel):
    start: date
    end: date = Field(description="Inclusive; every facility's days run midnight to midnight in its own zone.")
    label: str


class CallFigures(OutModel):
    active_inmates: int = Field(description="Inmates held at the facility on any day of the period.")
    entitled_inmates: int = Field(description="Active inmates whose call rights were not suspended all period.")
    inmates_with_call: int = Field(description="Inmates with at least one completed call in the period.")
    rights_fulfilment: float | None = Field(description="inmates_with_call / entitled_inmates (0..1).")
    calls_completed: int = Field(description="Calls that ended completed or at their time limit.")
    minutes: float = Field(description="Talk minutes of the completed calls.")
    median_duration_s: float | None
    cut_offs: int = Field(description="Calls an officer cut off.")
    technical_failures: int
    not_answered: int
    no_shows: int
    cancellations: dict[str, int] = Field(description="Cancelled bookings by reason.")
    overrides: int = Field(description="Bookings an officer made over the quota.")
    booth_hours_open: float = Field(description="In-service booth hours within opening hours, less closures.")
    booth_hours_used: float = Field(description="Hours booths were in a call.")
    booth_utilisation: float | None = Field(description="booth_hours_used / booth_hours_open (0..1).")


class FlagRuleCount(OutModel):
    rule: str
    raised: int
    confirmed: int
    dismissed: int


class FlagFigures(OutModel):
    raised: int
    reviewed: int
    median_review_hours: float | None
    open_backlog: int = Field(description="Flags still open at the end of the period, raised at any time.")
    by_rule: list[FlagRuleCount]


class AuditStatus(OutModel):
    entries: int = Field(description="Entries in the facility's audit log.")
    last_checkpoint_at: datetime | None
    last_checkpoint_size: int | None
    last_verified_at: datetime | None
    last_verification_ok: bool | None
    last_verification_detail: str | None = None


class FacilityReport(CallFigures):
    facility_id: int
    code: str
    name: str
    time_zone: str
    flags: FlagFigures | None = None
    audit: AuditStatus | None = None


class InmateWithoutCall(OutModel):
    inmate_id: int
    registration_no: str
    full_name: str
    facility_id: int
    facility_code: str
    last_call_at: datetime | None
    days_without_call: int = Field(description="Whole days from the last completed call (or admission) to the period end.")


class OfficerCount(OutModel):
    facility_id: int
    facility_code: str
    user_id: int
    username: str
    full_name: str
    count: int


class ComplianceReport(OutModel):
    scope: ReportScope
    period: ReportPeriod
    generated_at: datetime
    no_call_days: int
    totals: CallFigures
    flag_totals: FlagFigures | None = Field(
        default=None, description="Absent when this deployment has no flag review (no detection schema).")
    facilities: list[FacilityReport]
    inmates_without_call: list[InmateWithoutCall]
    cut_offs_by_officer: list[OfficerCount]
    overrides_by_officer: list[OfficerCount]
