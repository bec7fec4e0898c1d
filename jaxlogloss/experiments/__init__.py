"""Experiment configs, the runner, the claims S1-S13, reports and figures.

Modules, each importing only those above it:

* :mod:`.schema`  -- what a config is (one dataclass per TOML section), ``ConfigError``;
* :mod:`.types`   -- ``Run``, ``ClaimResult``, ``Context``: what runner and claims share;
* :mod:`.figures` -- matplotlib helpers;
* :mod:`.claims`  -- the checks, each registered with ``@claim("S3")``;
* :mod:`.config`  -- reading and validating TOML (claim ids from the claims' registry);
* :mod:`.report`  -- ``report.md`` and ``index.md``;
* :mod:`.runner`  -- ``jaxlogloss run``: train, check the claims, write the evidence.
"""
