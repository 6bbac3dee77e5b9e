"""A tiny Tk app for display tests: a full-screen canvas that appends every click and key to a file.

    python clickpad.py OUT.txt

Lines: `click X Y BUTTON` (root coordinates) and `key KEYSYM`. The window title is "clickpad".
"""

import sys
import tkinter as tk

out = open(sys.argv[1], "a", buffering=1)
root = tk.Tk(className="clickpad")
root.title("clickpad")
w, h = root.winfo_screenwidth(), root.winfo_screenheight()
root.geometry(f"{w}x{h}+0+0")
root.overrideredirect(True)  # no frame: window pixel == screen pixel
canvas = tk.Canvas(root, width=w, height=h, bg="white", highlightthickness=0)
canvas.pack(fill="both", expand=True)
canvas.create_text(w // 2, h // 2, text="clickpad", font=("DejaVu Sans", 28))


def on_click(event, button):
    out.write(f"click {event.x_root} {event.y_root} {button}\n")


canvas.bind("<Button-1>", lambda e: on_click(e, "left"))
canvas.bind("<Button-2>", lambda e: on_click(e, "middle"))
canvas.bind("<Button-3>", lambda e: on_click(e, "right"))
root.bind("<Key>", lambda e: out.write(f"key {e.keysym}\n"))
root.after(50, lambda: (root.focus_force(), out.write("ready\n")))
root.mainloop()
