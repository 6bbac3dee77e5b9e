"""How the agent sees: scaling between screen and image space, settle detection, OCR and
accessibility elements, Set-of-Mark, zoom. The raw grab belongs to the Desktop."""
