"""Replay: a recording or cached test steps played through the loop, each target verified first."""
