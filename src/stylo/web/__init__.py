"""The studio: a local web page to upload, tune, watch a run paint itself, and browse every run."""
