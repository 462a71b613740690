"""Dialogs: errors with the fix, the About box, and a last resort for unexpected errors.

Expected failures (PixseekError) already carry a one-line message; the dialog adds what to do
about it in the desktop app. Anything else is a bug: the traceback goes to stderr and the user
gets a dialog instead of a dead window.
"""

from __future__ import annotations

import sys
import traceback
import tkinter as tk
from pathlib import Path
from tkinter import messagebox

from pixseek import __version__
from pixseek.errors import (EmptyQuery, FolderNotFound, IndexCorrupt, IndexIncompatible, IndexLocked, IndexNotFound,
                            ModelNotInstalled, PixseekError, QueryError)


class InputProblem(PixseekError):
    """Something in the window that must be set before it can search (no folder, a bad K)."""


# error class -> (dialog title, what to do in this app); looked up along the class's MRO. The
# engine's message says what is wrong in words for every face; this adds the app's own how-to.
FIXES: dict[type, tuple[str, str]] = {
    FolderNotFound: ("Folder not available", "Check the path, or choose another folder with Browse."),
    ModelNotInstalled: ("No model installed",
                        "Install the model once from a terminal:  pixseek model install\n"
                        "(on an offline machine:  pixseek model install --from PATH), then choose the folder again."),
    IndexIncompatible: ("Index cannot be used",
                        "Start the app with the model that built this index (pixseek gui --model NAME), "
                        "or give it its own index folder (pixseek gui --index PATH)."),
    IndexNotFound: ("No index yet", "Choose a folder of images: it is indexed at once."),
    IndexLocked: ("Index busy", "Wait for the other pixseek process to finish, then click Update index."),
    IndexCorrupt: ("Index damaged", "Click Update index: pixseek rebuilds the index from what can still be read, "
                                    "and reads again only the photos it lost."),
    EmptyQuery: ("Cannot search", "Type some words to search for, or choose an image file with Browse."),
    QueryError: ("Cannot search", ""),
    InputProblem: ("Cannot search", ""),
    PixseekError: ("pixseek", ""),
}

LICENCES = ("pixseek: MIT. Model weights: their publisher's licence (the model catalogue lists each). ONNX Runtime: "
            "MIT. FAISS: MIT. Pillow: MIT-CMU. SQLite: public domain. Tcl/Tk: BSD-style.")


def show_error(parent: tk.Misc, error: BaseException) -> None:
    """A modal error dialog: the message, and for expected errors how to fix it."""
    if isinstance(error, PixseekError):
        title, fix = next(FIXES[c] for c in type(error).__mro__ if c in FIXES)
        messagebox.showerror(title, str(error), detail=fix, parent=parent)
        return
    traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    messagebox.showerror("Unexpected error", f"{type(error).__name__}: {error}",
                         detail="This is a bug in pixseek; the details were printed to the terminal. "
                                "The app keeps running.", parent=parent)


def install_error_hook(root: tk.Tk) -> None:
    """Show any exception that escapes a Tk callback as a dialog instead of dying silently."""
    root.report_callback_exception = lambda kind, error, trace: show_error(root, error.with_traceback(trace))


def show_about(parent: tk.Misc, model: str, index_dir: str, warning: str | None = None) -> None:
    """`warning`: what the engine says of the model (a random stand-in), shown with it."""
    shown = f"{model}\nWarning: {warning}." if warning else model
    messagebox.showinfo("About pixseek", f"pixseek {__version__}",
                        detail=f"Offline semantic image search: CLIP on ONNX Runtime, FAISS and SQLite.\n\n"
                               f"Model: {shown}\nIndex: {index_dir}\n\nLicences: {LICENCES}", parent=parent)


def load_icon(root: tk.Tk, icon: Path) -> tk.PhotoImage | None:
    """The window icon; a missing or unreadable icon file only costs the icon."""
    try:
        image = tk.PhotoImage(master=root, file=str(icon))
    except (tk.TclError, OSError):
        return None
    root.iconphoto(True, image)
    return image
