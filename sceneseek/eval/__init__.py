"""Evaluation beside the pipeline: real-media builders, metrics, keyword baseline."""
