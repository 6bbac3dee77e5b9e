"""The live run: the loop, the step builder, stuck detection and the one wiring function."""
