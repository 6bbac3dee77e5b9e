"""`uiagent record`: a human demonstration listened to on X11, merged into actions, written as a recording."""
