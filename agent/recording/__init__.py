"""Recordings: the on-disk format, the crash-safe writer and the HTML report."""
