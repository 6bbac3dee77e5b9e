"""A tiny Tk app for display tests: a full-screen canvas that appends every click and key to a file.

    python clickpad.py OUT.txt [--grid]

Lines: `click X Y BUTTON` (root coordinates) and `key KEYSYM`. The window title is "clickpad".
`--grid` draws a grid of numbered boxes (targets with something to recognise, for replay).
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
if "--grid" in sys.argv[2:]:
    for row in range(6):
        for col in range(10):
            x, y = 60 + col * (w - 120) // 10, 60 + row * (h - 120) // 6
            canvas.create_rectangle(x, y, x + 90, y + 40, outline="black", fill=("#eef" if (row + col) % 2 else "#efe"))
            canvas.create_text(x + 45, y + 20, text=f"B{row * 10 + col + 1:02d}", font=("DejaVu Sans", 12))


def on_click(event, button):
    out.write(f"click {event.x_root} {event.y_root} {button}\n")


canvas.bind("<Button-1>", lambda e: on_click(e, "left"))
canvas.bind("<Button-2>", lambda e: on_click(e, "middle"))
canvas.bind("<Button-3>", lambda e: on_click(e, "right"))
root.bind("<Key>", lambda e: out.write(f"key {e.keysym}\n"))
root.after(50, lambda: (root.focus_force(), out.write("ready\n")))
root.mainloop()
