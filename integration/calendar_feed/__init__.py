"""The patient's private calendar feed (iCalendar, RFC 5545): a secret URL any calendar
app subscribes to, with the dosing sessions, their preparation reminders as alarms, and
the scheduled prompts. Named `calendar_feed` so it never shadows the standard library's
`calendar` module."""
