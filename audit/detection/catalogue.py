"""The rule catalogue: what each rule looks for, in Bahasa Indonesia and English, with its defaults.

Defaults are suggestions (detection.md marks them [d]); every parameter can be set per region through
``detection_rule_params``. A rule's version goes up whenever its query or meaning changes, and every flag
records the version that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from audit.detection import rules_inmates as ri
from audit.detection import rules_numbers as rn
from audit.detection import rules_officers as ro

Focus = Literal["number", "inmate", "officer", "facility", "any"]


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    severity: Literal["low", "medium", "high"]
    weight: float
    subject: str
    focus: Focus
    title: dict[str, str]
    description: dict[str, str]
    defaults: dict[str, Any]
    sql: str = field(repr=False)
    # Content-style rules read what inmates dial; legal-counsel numbers never enter them.
    content: bool = True
    # Rules about an absence (no call, a drop) cannot wait for a change; the incremental job sweeps them.
    sweep_s: int | None = None
    # Rules counting towards a fraud pattern: confirming their flag may put the number on the watchlist.
    fraud: bool = False
    # Rules judging complete periods only (a week against its peers or its history): changes within the
    # running period cannot raise their flags, so the incremental job runs them as sweeps, from the last
    # sweep's instant, which evaluates a period once it has ended.
    complete_periods: bool = False

    def describe(self, lang: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "severity": self.severity,
            "weight": self.weight,
            "subject": self.subject,
            "title": self.title.get(lang, self.title["id"]),
            "description": self.description.get(lang, self.description["id"]),
            "defaults": self.defaults,
            "legal_counsel_excluded": self.content,
            "fraud": self.fraud,
        }


RULES: tuple[Rule, ...] = (
    Rule(
        "shared_number",
        2,
        "high",
        5,
        "number",
        "number",
        {"id": "Nomor dihubungi banyak WBP", "en": "Number called by several inmates"},
        {
            "id": "Satu nomor luar dihubungi oleh sedikitnya min_inmates WBP berbeda dalam window_days hari di "
            "satu wilayah, lintas UPT. WBP yang mendaftarkan nomor itu sebagai keluarga inti terverifikasi "
            "dihitung satu rumah tangga (sampai household_max).",
            "en": "One outside number called by at least min_inmates distinct inmates within window_days days "
            "across a region's facilities. Inmates who registered it as verified core family count as one "
            "household (up to household_max).",
        },
        {"min_inmates": 3, "window_days": 30, "household_max": 4},
        rn.SHARED_NUMBER,
        fraud=True,
    ),
    Rule(
        "shared_registration",
        1,
        "medium",
        3,
        "number",
        "number",
        {"id": "Nomor terdaftar pada banyak WBP", "en": "Number registered by several inmates"},
        {
            "id": "Satu nomor aktif di daftar kontak sedikitnya min_inmates WBP; diperiksa saat pendaftaran.",
            "en": "One number on the active contact lists of at least min_inmates inmates; checked at registration.",
        },
        {"min_inmates": 3, "household_max": 4, "period_days": 30},
        rn.SHARED_REGISTRATION,
        fraud=True,
    ),
    Rule(
        "volume_change",
        3,
        "medium",
        2,
        "inmate",
        "inmate",
        {"id": "Perubahan volume panggilan", "en": "Call volume change"},
        {
            "id": "Jumlah panggilan mingguan (minggu penuh) dibanding empat minggu sebelumnya milik WBP sendiri, "
            "setelah disesuaikan dengan perubahan semua WBP di UPT itu (hari raya, gangguan): z termodifikasi "
            "|z| > z_threshold, sedikitnya min_excess_sd simpangan baku Poisson dari median, menonjol dari "
            "perubahan rekan minggu itu, dan kenaikan dengan peluang Poisson <= max_p; naik maupun turun; "
            "panggilan yang dibatalkan UPT tetap dihitung; riwayat pendek dibanding blok UPT.",
            "en": "Weekly calls (complete weeks) against the inmate's own previous four weeks, adjusted for how "
            "everyone in the facility moved (holidays, outages): modified z |z| > z_threshold, at least "
            "min_excess_sd Poisson standard deviations from the median, standing out from the peers' changes "
            "that week, and a rise with Poisson probability <= max_p; rises and drops; calls the facility "
            "cancelled still count; short histories compare with the facility block.",
        },
        {
            "z_threshold": 3.5,
            "min_delta": 3,
            "mad_floor": 0.5,
            "min_block_peers": 5,
            "min_excess_sd": 1.7,
            "min_factor_inmates": 20,
            "max_p": 0.001,
        },
        ri.VOLUME_CHANGE,
        sweep_s=900,
        complete_periods=True,
    ),
    Rule(
        "released_link",
        2,
        "medium",
        3,
        "number",
        "number",
        {"id": "Terkait WBP yang baru bebas", "en": "Link to a released inmate"},
        {
            "id": "Nomor yang dihubungi atau didaftarkan WBP, yang juga dihubungi atau didaftarkan WBP yang bebas "
            "dalam released_days hari terakhir.",
            "en": "A number called or registered by an inmate that an inmate released in the last released_days "
            "days also called or registered.",
        },
        {"released_days": 180, "window_days": 30},
        rn.RELEASED_LINK,
        sweep_s=900,
        fraud=True,
    ),
    Rule(
        "watched_number",
        2,
        "high",
        5,
        "number",
        "number",
        {"id": "Nomor dalam daftar pantau", "en": "Watchlisted number"},
        {
            "id": "Panggilan ke, atau pendaftaran, nomor yang dipantau atau diblokir dalam cakupannya.",
            "en": "A call to, or registration of, a watched or blocked number in its scope.",
        },
        {"window_days": 1},
        rn.WATCHED_NUMBER,
        content=False,
        fraud=True,
    ),
    Rule(
        "staff_number",
        2,
        "high",
        5,
        "officer",
        "number",
        {"id": "Nomor milik petugas", "en": "Staff member's number"},
        {
            "id": "Panggilan ke, atau pendaftaran, nomor milik seorang petugas.",
            "en": "A call to, or registration of, a staff member's own number.",
        },
        {"window_days": 30},
        rn.STAFF_NUMBER,
        content=False,
    ),
    Rule(
        "new_number_burst",
        1,
        "high",
        4,
        "inmate",
        "inmate",
        {"id": "Mengacak nomor", "en": "Burst of new numbers"},
        {
            "id": "Dalam window_minutes menit, sedikitnya min_new_numbers nomor yang belum pernah dihubungi, dengan "
            "durasi median di bawah max_median_duration_s detik atau tingkat jawab di bawah min_answer_rate.",
            "en": "Within window_minutes minutes, at least min_new_numbers never-called numbers with median "
            "duration under max_median_duration_s seconds or answer rate under min_answer_rate.",
        },
        {"window_minutes": 60, "min_new_numbers": 8, "max_median_duration_s": 20, "min_answer_rate": 0.4},
        ri.NEW_NUMBER_BURST,
        fraud=True,
    ),
    Rule(
        "prefix_hopping",
        2,
        "medium",
        3,
        "prefix",
        "number",
        {"id": "Lompat prefiks nomor", "en": "Prefix hopping"},
        {
            "id": "Sedikitnya min_inmates WBP menghubungi sedikitnya min_numbers nomor dalam satu rentang (nomor "
            "tanpa drop_digits digit terakhir) dalam window_days hari.",
            "en": "At least min_inmates inmates calling at least min_numbers numbers of one range (the number "
            "without its last drop_digits digits) within window_days days.",
        },
        {"min_inmates": 4, "min_numbers": 3, "drop_digits": 2, "window_days": 30},
        rn.PREFIX_HOPPING,
        fraud=True,
    ),
    Rule(
        "contact_churn",
        2,
        "low",
        2,
        "inmate",
        "inmate",
        {"id": "Pergantian kontak", "en": "Contact churn"},
        {
            "id": "1 - Dice(nomor minggu ini, nomor empat minggu sebelumnya) di atas max_churn (minggu penuh); "
            "nomor keluarga inti yang baru didaftarkan dan diverifikasi tidak dihitung.",
            "en": "1 - Dice(this week's numbers, the previous four weeks' numbers) above max_churn (complete "
            "weeks); newly registered, verified core-family numbers are left out.",
        },
        {"max_churn": 0.7, "min_current": 3, "min_previous": 2},
        ri.CONTACT_CHURN,
        sweep_s=900,
        complete_periods=True,
    ),
    Rule(
        "fraud_set_overlap",
        2,
        "high",
        4,
        "inmate",
        "inmate",
        {"id": "Kemiripan dengan jaringan penipuan", "en": "Overlap with a known fraud contact set"},
        {
            "id": "Dice antara nomor yang dihubungi WBP dalam window_days hari dan nomor pelaku penipuan yang "
            "terkonfirmasi sedikitnya min_dice (dan min_common nomor sama).",
            "en": "Dice between an inmate's numbers in window_days days and a confirmed fraudster's numbers at "
            "least min_dice (and at least min_common numbers in common).",
        },
        {"min_dice": 0.3, "min_common": 2, "window_days": 30, "fraud_history_days": 90},
        ri.FRAUD_SET_OVERLAP,
        sweep_s=900,
        fraud=True,
    ),
    Rule(
        "premium_international",
        2,
        "medium",
        3,
        "number",
        "number",
        {"id": "Nomor internasional atau premium", "en": "International or premium number"},
        {
            "id": "Panggilan ke, atau pendaftaran, nomor internasional, premium atau bebas pulsa yang tidak ada "
            "di daftar izin; nomor luar negeri keluarga inti yang terverifikasi (keluarga pekerja migran) tidak.",
            "en": "A call to, or registration of, an international, premium-rate or toll-free number not on the "
            "allowed list; a verified core-family number abroad (a migrant worker's family) is not.",
        },
        {
            "domestic_prefixes": ["+62"],
            "premium_prefixes": ["+62800", "+62809"],
            "allowed_prefixes": [],
            "window_days": 30,
        },
        rn.PREMIUM_INTERNATIONAL,
    ),
    Rule(
        "repeated_cutoffs",
        2,
        "medium",
        2,
        "inmate",
        "inmate",
        {"id": "Panggilan berulang kali diputus", "en": "Repeated officer cut-offs"},
        {
            "id": "Sedikitnya min_cut_offs panggilan WBP diputus petugas karena pelanggaran dalam window_days hari.",
            "en": "At least min_cut_offs of an inmate's calls cut off by officers within window_days days.",
        },
        {"min_cut_offs": 3, "window_days": 30},
        ri.REPEATED_CUTOFFS,
        content=False,
    ),
    Rule(
        "overlapping_calls",
        2,
        "high",
        4,
        "number",
        "number",
        {"id": "Panggilan tumpang tindih", "en": "Overlapping calls to one number"},
        {
            "id": "Panggilan dua WBP ke nomor yang sama tumpang tindih sedikitnya min_overlap_s detik "
            "(kemungkinan panggilan dijembatani).",
            "en": "Two inmates' calls to one number overlapping by at least min_overlap_s seconds (a possible "
            "bridged call).",
        },
        {"min_overlap_s": 60, "window_days": 1},
        rn.OVERLAPPING_CALLS,
        fraud=True,
    ),
    Rule(
        "override_rate",
        3,
        "medium",
        3,
        "officer",
        "officer",
        {"id": "Tingkat pengecualian petugas", "en": "Officer override rate"},
        {
            "id": "Pengecualian kuota, pembatalan atas nama UPT dan tindakan audit tertentu (masing-masing "
            "dihitung sekali) per petugas per minggu penuh dibanding rekan di UPT yang sama (z termodifikasi > "
            "z_threshold, sedikitnya min_excess_sd simpangan baku Poisson di atas median rekan, dan peluang "
            "Poisson <= max_p).",
            "en": "Quota overrides, facility-side cancellations and listed audit actions (each counted once) per "
            "officer per complete week against the facility's officers (modified z > z_threshold, at least "
            "min_excess_sd Poisson standard deviations above the peers' median, and Poisson probability "
            "<= max_p).",
        },
        {
            "z_threshold": 3.5,
            "min_actions": 5,
            "min_peers": 4,
            "mad_floor": 0.5,
            "min_excess_sd": 4.5,
            "max_p": 0.0001,
            "audit_actions": ["quota.override", "call.manual_approval"],
        },
        ro.OVERRIDE_RATE,
        content=False,
        sweep_s=900,
        complete_periods=True,
    ),
    Rule(
        "favouritism",
        2,
        "high",
        4,
        "officer",
        "officer",
        {"id": "Pilih kasih", "en": "Favouritism"},
        {
            "id": "Lebih dari max_share (dan sedikitnya min_overrides) pengecualian seorang petugas untuk satu WBP "
            "dalam window_days hari.",
            "en": "More than max_share (and at least min_overrides) of an officer's overrides to one inmate "
            "within window_days days.",
        },
        {"max_share": 0.3, "min_overrides": 5, "window_days": 30},
        ro.FAVOURITISM,
        content=False,
    ),
    Rule(
        "out_of_hours",
        2,
        "medium",
        2,
        "officer",
        "officer",
        {"id": "Tindakan di luar jam", "en": "Out-of-hours actions"},
        {
            "id": "Sedikitnya min_actions tindakan petugas dalam sehari di luar jam dinasnya (dan pada jam ketika "
            "kurang dari min_peer_officers petugas lain UPT itu bertugas dalam 28 hari), atau check-in dan "
            "pengakhiran panggilan di luar jam layanan wartel.",
            "en": "At least min_actions actions of an officer in a day outside their shift (and in an hour when "
            "fewer than min_peer_officers other officers of the facility worked in 28 days), or check-ins and "
            "call endings outside kiosk hours.",
        },
        {"min_actions": 3, "min_peer_officers": 2},
        ro.OUT_OF_HOURS,
        content=False,
        sweep_s=900,
        complete_periods=True,
    ),
    Rule(
        "self_correction",
        2,
        "medium",
        3,
        "officer",
        "officer",
        {"id": "Koreksi atas entri sendiri", "en": "Self-correction"},
        {
            "id": "Petugas membatalkan pemesanan yang dibuatnya sendiri atas nama UPT (kecuali pada hari gangguan "
            "dengan sedikitnya outage_cancellations pembatalan teknis), memverifikasi kontak yang "
            "didaftarkannya sendiri, atau mengoreksi entri yang dibuatnya sendiri, dalam window_days hari.",
            "en": "An officer cancelling bookings they made on the facility's account (except on an outage day "
            "with at least outage_cancellations technical cancellations), verifying contacts they registered, "
            "or correcting entries they made, within window_days days.",
        },
        {
            "min_self_cancellations": 3,
            "min_self_verifications": 1,
            "min_self_corrections": 1,
            "window_days": 30,
            "correction_actions": ["booking.corrected", "call.corrected", "contact.corrected"],
            "outage_cancellations": 5,
        },
        ro.SELF_CORRECTION,
        content=False,
    ),
    Rule(
        "officer_cutoff_rate",
        1,
        "medium",
        3,
        "officer",
        "officer",
        {"id": "Tingkat pemutusan panggilan oleh petugas", "en": "Officer cut-off rate"},
        {
            "id": "Bagian panggilan yang diputus seorang petugas dalam history_weeks minggu dibanding petugas lain "
            "di UPT yang sama; tingkatnya ditarik ke tingkat rekan (prior senilai prior_calls panggilan) dan "
            "ditandai bila sedikitnya min_ratio kali dan min_excess di atas tingkat rekan, dengan sedikitnya "
            "min_cut_offs pemutusan.",
            "en": "The share of calls an officer cut off over history_weeks weeks against the facility's other "
            "officers; the rate is shrunk towards the peers' (a prior worth prior_calls calls) and flagged "
            "when at least min_ratio times and min_excess above the peers' rate, with at least min_cut_offs "
            "cut-offs.",
        },
        {
            "history_weeks": 4,
            "min_cut_offs": 5,
            "prior_calls": 50,
            "min_ratio": 4,
            "min_excess": 0.05,
            "min_peer_calls": 100,
        },
        ro.OFFICER_CUTOFF_RATE,
        content=False,
        sweep_s=900,
        complete_periods=True,
    ),
    Rule(
        "audit_tamper",
        2,
        "high",
        10,
        "officer",
        "any",
        {"id": "Percobaan mengubah data audit", "en": "Attempt to change audit data"},
        {
            "id": "Setiap percobaan yang diblokir untuk mengubah atau menghapus data audit, dan setiap checkpoint "
            "yang ditolak saksi (witness).",
            "en": "Every blocked attempt to change or delete audit data, and every checkpoint a witness refused.",
        },
        {},
        ro.AUDIT_TAMPER,
        content=False,
    ),
    Rule(
        "rights_starvation",
        1,
        "medium",
        2,
        "inmate",
        "inmate",
        {"id": "Hak komunikasi tidak terpenuhi", "en": "No completed call"},
        {
            "id": "WBP aktif yang tidak memiliki panggilan selesai selama lebih dari max_days hari; dihitung dalam "
            "laporan kepatuhan wilayah.",
            "en": "An active inmate with no completed call for more than max_days days; counted in regional "
            "compliance reports.",
        },
        {"max_days": 14},
        ri.RIGHTS_STARVATION,
        content=False,
        sweep_s=900,
    ),
    Rule(
        "kiosk_mismatch",
        2,
        "high",
        4,
        "inmate",
        "any",
        {"id": "Panggilan kios tidak sesuai pemesanan", "en": "Kiosk call not matching its booking"},
        {
            "id": "Kejadian panggilan di kios yang tidak sesuai pemesanannya: nomor lain, tanpa pemesanan, "
            "pemesanan tidak berlangsung, atau bilik lain.",
            "en": "Kiosk call events that do not match their booking: another number dialled, no booking, "
            "booking not live, or another booth.",
        },
        {},
        ri.KIOSK_MISMATCH,
        content=False,
    ),
)

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def get_rule(rule_id: str) -> Rule | None:
    return BY_ID.get(rule_id)
