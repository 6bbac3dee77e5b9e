"""A Tk form for grounding tests and benchmarks: labelled fields, a checkbox and buttons.

    python form.py [--out OUT.txt] [--layout default|alt] [--geometry +X+Y]

Window title "uiagent form". Fields: Name, Email, City; checkbox "Subscribe"; buttons Submit, Clear,
Cancel (bottom row; `--layout alt` puts them in a column on the right, in another order).
With --out, the app appends `ready`, then `widgets JSON` (every visible label's text, kind and
screen box, as ground truth) and, on Submit, `submit JSON` with the field values; Clear empties
the fields; Cancel appends `cancel` and exits.
"""

import argparse
import json
import sys
import tkinter as tk

parser = argparse.ArgumentParser()
parser.add_argument("--out")
parser.add_argument("--layout", choices=("default", "alt"), default="default")
parser.add_argument("--geometry", default="+40+40")
args = parser.parse_args()

out = open(args.out, "a", buffering=1) if args.out else None
root = tk.Tk(className="uiagent-form")
root.title("uiagent form")
root.geometry(args.geometry)
root.configure(padx=16, pady=16)
font = ("DejaVu Sans", 12)

fields: dict[str, tk.Entry] = {}
labels: list[tuple[str, str, tk.Widget]] = []
for row, name in enumerate(("Name", "Email", "City")):
    label = tk.Label(root, text=f"{name}:", font=font)
    label.grid(row=row, column=0, sticky="e", padx=6, pady=6)
    entry = tk.Entry(root, width=24, font=font)
    entry.grid(row=row, column=1, sticky="w", padx=6, pady=6)
    fields[name] = entry
    labels.append((f"{name}:", "label", label))

subscribe = tk.BooleanVar(value=False)
check = tk.Checkbutton(root, text="Subscribe", variable=subscribe, font=font)
check.grid(row=3, column=1, sticky="w", padx=6, pady=6)
labels.append(("Subscribe", "checkbox", check))


def write(line: str) -> None:
    if out:
        out.write(line + "\n")


def submit() -> None:
    values = {k: e.get() for k, e in fields.items()} | {"Subscribe": subscribe.get()}
    write("submit " + json.dumps(values))


def clear() -> None:
    for entry in fields.values():
        entry.delete(0, "end")


def cancel() -> None:
    write("cancel")
    root.destroy()


buttons = [("Submit", submit), ("Clear", clear), ("Cancel", cancel)]
frame = tk.Frame(root)
if args.layout == "alt":
    frame.grid(row=0, column=2, rowspan=4, sticky="n", padx=(24, 0))
    for i, (text, command) in enumerate(reversed(buttons)):
        b = tk.Button(frame, text=text, command=command, font=font, width=8)
        b.grid(row=i, column=0, pady=4)
        labels.append((text, "button", b))
else:
    frame.grid(row=4, column=0, columnspan=2, pady=(12, 0))
    for i, (text, command) in enumerate(buttons):
        b = tk.Button(frame, text=text, command=command, font=font, width=8)
        b.grid(row=0, column=i, padx=6)
        labels.append((text, "button", b))


def announce() -> None:
    root.update_idletasks()
    widgets = [{"text": text, "kind": kind, "box": [w.winfo_rootx(), w.winfo_rooty(),
                                                    w.winfo_rootx() + w.winfo_width(),
                                                    w.winfo_rooty() + w.winfo_height()]}
               for text, kind, w in labels]
    write("widgets " + json.dumps(widgets))
    write("ready")


root.bind("<Map>", lambda e: root.after(100, announce) if e.widget is root else None)
root.mainloop()
sys.exit(0)
