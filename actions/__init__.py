"""The action language and its guarded execution. Imports nothing from `agent`."""
