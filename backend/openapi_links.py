"""OpenAPI links: how one operation's answer feeds the next (OpenAPI 3.0, "Link Object").

drf-spectacular does not emit links, so this post-processing hook adds them: a created
record leads to reading, changing and deleting it (with its ETag as If-Match), a deletion
to reading the record again (which must answer 404), and the therapist's lists to the
records they name. Clients can follow them; Schemathesis follows them in its stateful
phase (tests/fuzz/), next to the links it infers itself.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Link(NamedTuple):
    source: str  # operationId
    statuses: tuple[str, ...]
    target: str  # operationId
    parameters: dict[str, str]
    description: str


_CREATED = ("201", "200")  # a repeated create with the same `id` answers 200

# Path parameters come from the record in the answer (or from the request, after a
# delete); `header.If-Match` takes the ETag the answer carried, which names the version.
_FOLLOW_RECORD: dict[str, tuple[str, str, str, str]] = {
    # resource: (create, read, update, delete) operationIds; the path parameter name
    "session": (
        "sessions_create",
        "sessions_retrieve",
        "sessions_update",
        "sessions_delete",
    ),
    "entry": ("entries_create", "entries_retrieve", "entries_update", "entries_delete"),
}


def _record_links(resource: str) -> list[Link]:
    create, read, update, delete = _FOLLOW_RECORD[resource]
    parameter = f"path.{resource}_id"
    body_id = {parameter: "$response.body#/id"}
    versioned = {**body_id, "header.If-Match": "$response.header.ETag"}
    links = [
        Link(create, _CREATED, read, body_id, f"Read the {resource} just created."),
        Link(create, _CREATED, update, versioned, f"Change the {resource} just created."),
        Link(create, _CREATED, delete, versioned, f"Delete the {resource} just created."),
        Link(read, ("200",), update, versioned, f"Change the {resource} as read."),
        Link(read, ("200",), delete, versioned, f"Delete the {resource} as read."),
        Link(update, ("200",), read, body_id, f"Read the changed {resource}."),
        Link(update, ("200",), update, versioned, f"Change the {resource} again."),
        Link(update, ("200",), delete, versioned, f"Delete the changed {resource}."),
        Link(
            delete,
            ("204",),
            read,
            {parameter: f"$request.path.{resource}_id"},
            f"A deleted {resource} answers 404.",
        ),
    ]
    return links


LINKS: list[Link] = [
    *_record_links("session"),
    *_record_links("entry"),
    Link(
        "sessions_create",
        _CREATED,
        "sessions_journal",
        {"path.session_id": "$response.body#/id"},
        "The journal around the session just created.",
    ),
    Link(
        "measures_create",
        _CREATED,
        "measures_retrieve",
        {"path.measure_id": "$response.body#/id"},
        "Read the measure just recorded.",
    ),
    Link(
        "shares_create",
        ("201",),
        "shares_retrieve",
        {"path.share_id": "$response.body#/id"},
        "Read the share just made.",
    ),
    Link(
        "shares_create",
        ("201",),
        "shares_revoke",
        {"path.share_id": "$response.body#/id"},
        "Revoke the share just made.",
    ),
    Link(
        "care_links_create",
        ("201",),
        "care_links_end",
        {"path.link_id": "$response.body#/id"},
        "End the care link just made.",
    ),
    Link(
        "care_links_create",
        ("201",),
        "care_links_retrieve",
        {"path.link_id": "$response.body#/id"},
        "Read the care link just made, with its safety alert consent history.",
    ),
    Link(
        "care_links_create",
        ("201",),
        "care_links_update",
        {"path.link_id": "$response.body#/id"},
        "Give or withdraw consent to safety alerts on the care link just made.",
    ),
    Link(
        "push_devices_register",
        ("201", "200"),
        "push_devices_retire",
        {"path.device_id": "$response.body#/id"},
        "Retire the device just registered.",
    ),
    Link(
        "push_devices_register",
        ("201", "200"),
        "push_devices_update",
        {"path.device_id": "$response.body#/id"},
        "Say whether the device just registered may show notifications.",
    ),
    Link(
        "courses_create",
        _CREATED,
        "courses_retrieve",
        {"path.course_id": "$response.body#/id"},
        "Read the course just started.",
    ),
    Link(
        "courses_create",
        _CREATED,
        "courses_update",
        {"path.course_id": "$response.body#/id"},
        "Switch the plan of the course just started.",
    ),
    Link(
        "courses_create",
        _CREATED,
        "courses_sessions_move",
        {
            "path.course_id": "$response.body#/id",
            "path.session_id": "$response.body#/sessions/0/session_id",
        },
        "Move the first session of the course just started.",
    ),
    Link(
        "courses_create",
        _CREATED,
        "courses_sessions_skip",
        {
            "path.course_id": "$response.body#/id",
            "path.session_id": "$response.body#/sessions/0/session_id",
        },
        "Skip the first session of the course just started.",
    ),
    Link(
        "courses_create",
        _CREATED,
        "courses_extend",
        {"path.course_id": "$response.body#/id"},
        "Extend the maintenance of the course just started.",
    ),
    Link(
        "courses_create",
        _CREATED,
        "courses_end",
        {"path.course_id": "$response.body#/id"},
        "End the course just started.",
    ),
    Link(
        "therapist_patients_list",
        ("200",),
        "therapist_patient_shares_list",
        {"path.patient_id": "$response.body#/results/0/id"},
        "What the first patient shares with you.",
    ),
    Link(
        "therapist_patients_list",
        ("200",),
        "therapist_patient_share_history_list",
        {"path.patient_id": "$response.body#/results/0/id"},
        "The first patient's share history.",
    ),
    Link(
        "therapist_patient_shares_list",
        ("200",),
        "therapist_shares_retrieve",
        {"path.share_id": "$response.body#/results/0/id"},
        "Read the first share.",
    ),
    Link(
        "therapist_patient_shares_list",
        ("200",),
        "therapist_shares_measures",
        {"path.share_id": "$response.body#/results/0/id"},
        "The measures of the first share.",
    ),
    Link(
        "therapist_patient_shares_list",
        ("200",),
        "therapist_shares_course",
        {"path.share_id": "$response.body#/results/0/id"},
        "The course of the first share's dosing session.",
    ),
]


def _operations_by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for item in result.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def add_links(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: add LINKS to the responses they start from.

    A link whose operations or response are not in this schema is left out, so the hook
    keeps working while operations come and go; tests/fuzz checks that none is dropped.
    """
    operations = _operations_by_id(result)
    for link in LINKS:
        source = operations.get(link.source)
        target = operations.get(link.target)
        if source is None or target is None:
            continue
        for status in link.statuses:
            response = source.get("responses", {}).get(status)
            if response is None:
                continue
            response.setdefault("links", {})[link.target] = {
                "operationId": link.target,
                "parameters": dict(link.parameters),
                "description": link.description,
            }
    return result
