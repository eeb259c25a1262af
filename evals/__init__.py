"""The replay harness: scenario files, a controlled clock, scores and reports."""
