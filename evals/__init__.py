"""Offline eval harness: corpus + datasets, metrics, report, record/replay. See evals/README.md."""
