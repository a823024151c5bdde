"""The report's experiments as a feature: sweeps over settings, executors, contact sheets."""
