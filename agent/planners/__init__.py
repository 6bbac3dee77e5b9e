"""Planners turn an observation and the history into reasoning plus actions in screen space."""
