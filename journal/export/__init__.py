"""Export: the patient's whole record as Markdown or JSON, and measures as FHIR R4."""
