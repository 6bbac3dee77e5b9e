"""A Tk form whose Submit reacts late: for reaction-wait tests and benchmarks.

    python delayed.py OUT.txt --delay-ms 700 [--geometry +X+Y]

Window title "uiagent delayed". A click on Submit flashes the button at once (its own press
flash, 150 ms), and `--delay-ms` later the app reacts: the label under the button reads
`submitted N` and `submit N` is appended to OUT. At start it appends `ready` and
`widgets JSON` (the Submit button's and the label's screen boxes). The Dead button does nothing.
A Note field has the focus: its caret blinks all along (which is no reaction to a click). With
`--close-after-keys N` the window closes on the Nth key typed into it (`closed` is appended).
"""

import argparse
import json
import tkinter as tk

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--delay-ms", type=int, default=700)
parser.add_argument("--geometry", default="+80+80")
parser.add_argument("--close-after-keys", type=int, default=0)
args = parser.parse_args()

out = open(args.out, "a", buffering=1)
root = tk.Tk(className="uiagent-delayed")
root.title("uiagent delayed")
root.geometry(args.geometry)
root.configure(padx=24, pady=24)
font = ("DejaVu Sans", 14)
count = 0

status = tk.Label(root, text="not yet", font=font, width=14)


def react() -> None:
    global count
    count += 1
    status.configure(text=f"submitted {count}")
    out.write(f"submit {count}\n")


def flash() -> None:
    submit.configure(bg="#ffd24d", activebackground="#ffd24d")
    root.after(150, lambda: submit.configure(bg=normal, activebackground=active))


def on_submit() -> None:
    flash()
    root.after(args.delay_ms, react)


submit = tk.Button(root, text="Submit", font=font, width=8, command=on_submit)
normal, active = submit.cget("bg"), submit.cget("activebackground")
dead = tk.Button(root, text="Dead", font=font, width=8, activebackground=normal)
submit.grid(row=0, column=0, padx=8)
dead.grid(row=0, column=1, padx=8)
status.grid(row=1, column=0, columnspan=2, pady=(40, 0))
note = tk.Entry(root, width=16, font=font, insertontime=300, insertofftime=200)
note.grid(row=2, column=0, columnspan=2, pady=(24, 0))
note.focus_set()
keys = 0


def key(event: tk.Event) -> None:
    global keys
    keys += 1
    if keys == args.close_after_keys:
        out.write("closed\n")
        root.destroy()


note.bind("<KeyPress>", key)


def announce() -> None:
    root.update_idletasks()
    note.focus_force()
    boxes = {name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_rootx() + w.winfo_width(),
                    w.winfo_rooty() + w.winfo_height()] for name, w in (("submit", submit), ("status", status),
                                                                         ("dead", dead))}
    out.write("widgets " + json.dumps(boxes) + "\n")
    out.write("ready\n")


root.bind("<Map>", lambda e: root.after(100, announce) if e.widget is root else None)
root.mainloop()
