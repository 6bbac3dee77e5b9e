"""uiagent: a desktop UI-automation agent (perceive -> plan -> act, recorded and replayable)."""

__version__ = "0.1.0"
