"""Coverage-guided fuzzing of the parsers that read untrusted input (scripts/fuzz.sh runs it)."""
