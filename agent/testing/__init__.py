"""Regression UI tests: the pytest plugin, the `ui` fixture, the step cache, YAML scenarios, the judge."""
