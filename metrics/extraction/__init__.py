"""Extraction: company figures from news documents.

Owns reading documents (``documents``), text normalization (``normalize``), the quantity grammar
(``numbers``), the cue lexicon (``cues``), periods (``periods``), the company registry (``entities``),
the extractor (``extract``) and ingestion into the store (``ingest``). May import ``metrics.store`` (to
write facts and convert currencies) and the top-level ``errors``/``log``/``settings``; never alerting,
never ``jobs`` (``tests/test_boundaries.py``).
"""
