"""Experiment configs, the runner, the claims S1-S13, reports and figures."""
