"""SQL fragments shared by the rules, spliced in by name (constant text only; values always go as $n).

Every rule query takes the same parameters:
$1 since (timestamptz): the first period to evaluate is the one containing it;
$2 until (timestamptz): the evaluation instant, records at or after it are ignored;
$3 the rule's default parameters (jsonb), overlaid per region by ``detection_rule_params``;
$4 the rule id; $5 focus ids (inmates or officers, NULL = all); $6 focus numbers (NULL = all).
It returns region_id, subject_type, subject_key, period_start, facility_ids, metric, last_event_at, evidence.
"""

from __future__ import annotations

FRAGMENTS = {
    # Parameters in force per region: catalogue defaults overlaid by the region's own values. The window
    # length is also a plain integer column (wd): passed to detection_periods() as a column, the SQL
    # function is inlined; passed as a jsonb expression it is called per row, ten times slower.
    "/*prm*/": """prm AS (
    SELECT g.id AS region_id, x.p, coalesce((x.p->>'window_days')::int, 1) AS wd
      FROM regions g
      LEFT JOIN detection_rule_params o ON o.region_id = g.id AND o.rule_id = $4::text
     CROSS JOIN LATERAL (SELECT $3::text::jsonb || coalesce(o.params, '{}'::jsonb) AS p) x
     WHERE coalesce(o.enabled, true))""",
    # Legal counsel: privileged numbers, excluded from every content-style rule and from link views.
    "/*counsel*/": """counsel AS (
    SELECT DISTINCT phone_e164 AS num FROM contacts WHERE is_legal_counsel AND status = 'verified')""",
    # A household: inmates who registered the number as verified core family (identity checked). Such
    # inmates count as one caller of the number, up to the household_max parameter.
    "/*family*/": """family AS (
    SELECT DISTINCT phone_e164 AS num, inmate_id FROM contacts
     WHERE status = 'verified' AND relation IN ('spouse', 'parent', 'child', 'sibling', 'guardian')
       AND verification_method IN ('ktp', 'in_person', 'callback'))""",
    # Audit entries written by a user, with the facility of the log they went to (or the user's own).
    "/*user_audit*/": """user_audit AS (
    SELECT coalesce(CASE WHEN l.scope = 'facility' THEN l.scope_id END, u.scope_facility_id) AS facility_id,
           u.id AS officer_id, e.action, e.subject_type, e.log_id, e.seq, e.recorded_at AS t
      FROM audit.entries e
      JOIN audit.logs l ON l.log_id = e.log_id
      JOIN users u ON e.actor_type = 'user' AND e.actor_id ~ '^[0-9]{1,18}$' AND u.id = e.actor_id::bigint
     WHERE e.recorded_at >= (SELECT lo FROM bounds) AND e.recorded_at < $2::timestamptz)""",
    # Earliest record any region's window needs, as one constant so indexes on time can be used. A record
    # belongs to its own period only (0032), so the first period evaluated starts the read.
    "/*bounds*/": """bounds AS (
    SELECT coalesce(min(detection_bucket(least($1::timestamptz, $2::timestamptz), (p->>'window_days')::int)),
                    $2::timestamptz) AS lo
      FROM prm)""",
    # Rules with a sliding window ("N events in W days", a window ending at each event) also read the W
    # days before the first period evaluated: a window ending early in that period reaches back into them.
    "/*slide_bounds*/": """bounds AS (
    SELECT coalesce(min(detection_bucket(least($1::timestamptz, $2::timestamptz), (p->>'window_days')::int)
                        - make_interval(days => (p->>'window_days')::int)),
                    $2::timestamptz) AS lo
      FROM prm)""",
    # Audit entries about a booking, a call or a contact mirror a row those rules already count from its own
    # table (booked_by, cancelled_by, checked_in_by, ended_by, verified_by): counted again from the audit
    # log, every officer action would count twice.
    "/*not_mirrored*/": "coalesce(a.subject_type, '') NOT IN ('booking', 'call', 'contact')",
}


def expand(sql: str) -> str:
    for marker, text in FRAGMENTS.items():
        sql = sql.replace(marker, text)
    return sql
