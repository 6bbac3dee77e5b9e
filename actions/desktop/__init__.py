"""The driven machine, shaped like httpx's transports: `base` (the Protocol and its values),
`x11` (the real backend), `fake` (FakeDesktop, DryRunDesktop)."""

from actions.desktop.base import Button, Desktop, Monitor, ScreenGeometry, Screenshot, WindowInfo
from actions.desktop.fake import DryRunDesktop, FakeDesktop
from actions.desktop.x11 import PyAutoGUIDesktop, active_window, x_display

__all__ = ["Button", "Desktop", "DryRunDesktop", "FakeDesktop", "Monitor", "PyAutoGUIDesktop", "ScreenGeometry",
           "Screenshot", "WindowInfo", "active_window", "x_display"]
