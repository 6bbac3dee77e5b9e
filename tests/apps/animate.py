"""A Tk app for settle tests: a box moves for a known time after a click, then stops.

    python animate.py OUT.txt [--duration 0.8]

Full-screen, no frame. A click anywhere starts the animation; the app appends
`start T` and `stop T` (time.monotonic when the last frame was drawn) to OUT.txt. Title "animate".
"""

import argparse
import sys
import time
import tkinter as tk

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--duration", type=float, default=0.8)
args = parser.parse_args()

out = open(args.out, "a", buffering=1)
root = tk.Tk(className="animate")
root.title("animate")
w, h = root.winfo_screenwidth(), root.winfo_screenheight()
root.geometry(f"{w}x{h}+0+0")
root.overrideredirect(True)
canvas = tk.Canvas(root, width=w, height=h, bg="white", highlightthickness=0)
canvas.pack(fill="both", expand=True)
box = canvas.create_rectangle(20, 20, 80, 80, fill="blue", outline="")
state = {"start": 0.0, "last": 0.0, "running": False}


def frame() -> None:
    elapsed = time.monotonic() - state["start"]
    if elapsed >= args.duration:
        state["running"] = False
        out.write(f"stop {state['last']:.6f}\n")
        return
    x = 20 + int(elapsed * 600) % (w - 100)
    canvas.coords(box, x, 20, x + 60, 80)
    root.update_idletasks()
    state["last"] = time.monotonic()
    root.after(10, frame)


def on_click(_event: object) -> None:
    if state["running"]:
        return
    state["start"], state["running"] = time.monotonic(), True
    out.write(f"start {state['start']:.6f}\n")
    frame()


canvas.bind("<Button-1>", on_click)
root.after(50, lambda: out.write("ready\n"))
root.mainloop()
sys.exit(0)
