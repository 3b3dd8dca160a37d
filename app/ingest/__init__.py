"""Upload ingestion: the original (legacy) and refactored paths, and what they share."""
