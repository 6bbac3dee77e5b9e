"""The offline planner: explicit steps in the instruction language, grounded by OCR/accessibility."""
