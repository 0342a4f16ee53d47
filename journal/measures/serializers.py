"""The measures API's shapes: a measure, its safety block, the instruments, the trend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import serializers

from backend.pagination import MAX_PAGE_SIZE, pages_of
from backend.serializers import BoundedDateTimeField, EnumField, StrictSerializer
from journal import instruments as measures_instruments
from journal.api import represent
from journal.crisis import CrisisAction, CrisisKind
from journal.instruments import Band, Instrument
from journal.measures import selectors
from journal.models import (
    Measure,
)
from journal.safety import SafetyReason, safety_block


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": 3})
class AnswerField(serializers.Field):  # type: ignore[type-arg]
    """One item's answer, passed on as sent: `journal.instruments.validate` checks
    every item at once, so that a 400 names each bad one in the instrument's words."""

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return False, None  # a null answer is a bad answer, said in the item's words
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class CrisisResourceSerializer(serializers.Serializer[Any]):
    kind = EnumField(
        CrisisKind,
        help_text="clinic (your clinic's after-hours line, first when set), emergency, or "
        "crisis_line (a suicide or crisis line).",
    )
    name = serializers.CharField()
    action = EnumField(CrisisAction, help_text="How to reach it: call, text, or either.")
    contact = serializers.CharField(help_text="The number to call, or the short code to text.")
    keyword = serializers.CharField(
        allow_null=True, help_text="The word to text, where the service asks for one."
    )
    hours = serializers.CharField(
        allow_null=True, help_text="When it answers, where that is limited (null: any time)."
    )
    instructions = serializers.CharField(help_text="What to do, in a sentence.")
    # A field named like a Field attribute: DRF takes declared fields off the class.
    source = serializers.URLField(  # type: ignore[assignment]
        allow_null=True,
        help_text="The public page the number was checked against (null for the clinic's line).",
    )
    checked_on = serializers.DateField(allow_null=True, help_text="When it was checked.")

    class Meta:
        ref_name = "CrisisResource"


class SafetySerializer(serializers.Serializer[Any]):
    reason = EnumField(SafetyReason)
    message = serializers.CharField(help_text="Show this to the person, with the resources.")
    country = serializers.CharField(
        allow_null=True,
        help_text="Your country (ISO 3166-1), whose lines these are; null if unset.",
    )
    country_name = serializers.CharField(allow_null=True)
    resources = CrisisResourceSerializer(
        many=True,
        help_text="Your clinic's after-hours line first (when the clinic set one), then the "
        "crisis lines and emergency number of your country.",
    )
    fallback = serializers.CharField(
        allow_null=True,
        help_text="When there is no checked list for your country (or none is set): says "
        "plainly to call the local emergency number. Show it prominently.",
    )
    not_monitored = serializers.CharField(help_text="The journal is not monitored.")

    class Meta:
        ref_name = "Safety"


class MeasureOutputSerializer(serializers.Serializer[Measure]):
    id = serializers.UUIDField()
    instrument = EnumField(Instrument)
    answers = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=3),
        help_text="Item answers in the printed order of the items, each 0 to 3.",
    )
    difficulty = serializers.IntegerField(
        allow_null=True, min_value=0, max_value=3, help_text="PHQ-9 only; not scored."
    )
    total = serializers.IntegerField(min_value=0, max_value=27)
    band = EnumField(Band, help_text="The severity band of the total.")
    session = serializers.UUIDField(source="session_id", allow_null=True)
    taken_at = serializers.DateTimeField()
    version = serializers.IntegerField(help_text="Also sent as the ETag.")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Measure"


class MeasureCreatedSerializer(MeasureOutputSerializer):
    safety = SafetySerializer(
        allow_null=True,
        help_text=(
            "Present when PHQ-9 item 9 (thoughts of being better off dead or of hurting "
            "yourself) is above 0: show its message and crisis resources at once. Also "
            "added to an error answering such a submission. Null otherwise."
        ),
    )

    class Meta:
        ref_name = "MeasureCreated"


def measure_data(measure: Measure) -> dict[str, Any]:
    return represent(MeasureOutputSerializer, measure)


MeasurePageSerializer = pages_of("MeasurePage", MeasureOutputSerializer)


class MeasureFilterSerializer(StrictSerializer):
    instrument = EnumField(Instrument, required=False)
    session = serializers.UUIDField(required=False, help_text="Measures linked to this session.")
    taken_from = BoundedDateTimeField(required=False, help_text="Taken at or after this time.")
    taken_before = BoundedDateTimeField(required=False, help_text="Taken before this time.")
    cursor = serializers.CharField(required=False, help_text="From `next` or `previous`.")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, help_text="Page size (50)."
    )


def submitted_safety(data: Any, *, country: str | None) -> dict[str, Any] | None:
    """The safety block for a submission that endorses PHQ-9 item 9, read from the raw
    body, so that it comes back even when the measure is refused or fails. Read liberally,
    whatever `instrument` says: nine answers whose ninth is above 0 are a PHQ-9's, even
    one an app mislabels (a GAD-7 has seven, so a valid one never brings the block), and
    showing crisis resources to someone who did not need them costs little."""
    if not isinstance(data, Mapping):
        return None
    if not measures_instruments.needs_safety_response(Instrument.PHQ9, data.get("answers")):
        return None
    return safety_block(SafetyReason.PHQ9_ITEM9, country=country)


class InstrumentOptionSerializer(serializers.Serializer[measures_instruments.AnswerOption]):
    value = serializers.IntegerField(help_text="The score of this answer.")
    text = serializers.CharField()
    loinc = serializers.CharField(help_text="LOINC answer code.")

    class Meta:
        ref_name = "InstrumentOption"


class InstrumentItemSerializer(serializers.Serializer[measures_instruments.Item]):
    number = serializers.IntegerField(help_text="As printed, from 1; `answers` index + 1.")
    text = serializers.CharField()
    loinc = serializers.CharField(help_text="LOINC question code.")

    class Meta:
        ref_name = "InstrumentItem"


class InstrumentDifficultySerializer(
    serializers.Serializer[measures_instruments.DifficultyQuestion]
):
    text = serializers.CharField()
    loinc = serializers.CharField(help_text="LOINC question code.")
    options = InstrumentOptionSerializer(many=True)

    class Meta:
        ref_name = "InstrumentDifficulty"


class InstrumentBandSerializer(serializers.Serializer[measures_instruments.SeverityBand]):
    band = EnumField(Band)
    # Fields named like Field attributes: DRF takes declared fields off the class.
    label = serializers.CharField()  # type: ignore[assignment]
    minimum = serializers.IntegerField(help_text="Lowest total in the band.")
    maximum = serializers.IntegerField(help_text="Highest total in the band.")

    class Meta:
        ref_name = "InstrumentBand"


class InstrumentSerializer(serializers.Serializer[measures_instruments.InstrumentDefinition]):
    code = EnumField(Instrument, help_text="The `instrument` of a measure.")
    name = serializers.CharField()
    title = serializers.CharField()
    stem = serializers.CharField(help_text="The question the items complete.")
    items = InstrumentItemSerializer(many=True)
    options = InstrumentOptionSerializer(many=True, help_text="The answers of every item.")
    difficulty = InstrumentDifficultySerializer(
        allow_null=True, help_text="The unscored closing question, if the form has one."
    )
    max_total = serializers.IntegerField()
    bands = InstrumentBandSerializer(many=True)
    remission_below = serializers.IntegerField(help_text="Remission: a total below this.")
    safety_item = serializers.IntegerField(
        allow_null=True,
        help_text="The item whose answer above 0 brings the safety block (PHQ-9: 9).",
    )
    loinc_panel = serializers.CharField()
    loinc_panel_display = serializers.CharField()
    loinc_total = serializers.CharField()
    loinc_total_display = serializers.CharField()
    source = serializers.CharField(help_text="The validation study.")  # type: ignore[assignment]
    copyright = serializers.SerializerMethodField()

    class Meta:
        ref_name = "InstrumentDefinition"

    def get_copyright(self, form: measures_instruments.InstrumentDefinition) -> str:
        return measures_instruments.PFIZER_COPYRIGHT


InstrumentPageSerializer = pages_of("InstrumentDefinitionPage", InstrumentSerializer)


class TrendPointSerializer(serializers.Serializer[selectors.TrendPoint]):
    id = serializers.UUIDField()
    taken_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    band = EnumField(Band)
    is_baseline = serializers.BooleanField()
    change_from_baseline = serializers.IntegerField(
        allow_null=True, help_text="Total minus the baseline total (negative: fewer symptoms)."
    )
    percent_change = serializers.FloatField(
        allow_null=True, help_text="The change in percent of the baseline; null for baseline 0."
    )
    is_response = serializers.BooleanField(
        allow_null=True,
        help_text=(
            "At least 50% below the baseline. Null before the first dosing session, without "
            "a baseline, or for a baseline below 10."
        ),
    )
    is_remission = serializers.BooleanField(
        allow_null=True,
        help_text=("Below `remission_below` (PHQ-9 and GAD-7: 5). Null when `is_response` is."),
    )

    class Meta:
        ref_name = "TrendPoint"


class TrendBaselineSerializer(serializers.Serializer[Measure]):
    id = serializers.UUIDField()
    total = serializers.IntegerField()
    band = EnumField(Band)
    taken_at = serializers.DateTimeField()

    class Meta:
        ref_name = "TrendBaseline"
