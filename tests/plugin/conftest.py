"""Plugin tests run inner pytest sessions with `pytester` (subprocesses: each has its own display
and its own pyautogui binding, as a user's run would)."""

