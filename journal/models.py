"""The patient's own record: treatment sessions, entries, the key ring."""
