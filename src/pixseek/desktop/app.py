"""The desktop window: choose a folder, keep its index up to date, search it by text or image.

Everything slow (opening the index, scanning, indexing, searching, writing the results page)
runs on two Workers (one for the folder's index, one for searches, so a search need not wait
for indexing to end); this module only builds widgets, reacts to the user and to the outcomes
the workers hand back, which it drains from a queue every POLL_MS with `after()`.
"""

from __future__ import annotations

import argparse
import os
import tkinter as tk
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from pixseek import settings
from pixseek.desktop.dialogs import InputProblem, install_error_hook, load_icon, show_about, show_error
from pixseek.desktop.session import FolderState, SearchPage, Session, open_page
from pixseek.desktop.wording import describe_found, describe_progress, describe_report, image_types
from pixseek.desktop.worker import Outcome, Worker, drain
from pixseek.errors import FolderNotFound, IndexIncompatible, PixseekError
from pixseek.filters import SearchFilters
from pixseek.engine.query import DEFAULT_K, MAX_RESULTS, names_typed, parse_query
from pixseek.engine.results import IndexReport, Progress
from pixseek.model.bundle import stand_in_warning

POLL_MS = 40
ICON_PATH = Path(__file__).resolve().parent.parent / "assets" / "pixseek.png"
SETTINGS = "desktop"  # remembered: the folder, the number of results


class App:
    """The main window. `busy` is what the folder's worker does (None, "open" or "index"),
    `searching` whether a search is in flight; a search may run while a folder is indexed."""

    def __init__(self, root: tk.Tk, index: str | None = None, model: str | None = None,
                 device: str | None = None, icon: Path = ICON_PATH):
        self.root = root
        self.session = Session(index, model, device)
        self.worker = Worker("indexer")
        self.searcher = Worker("searcher", self.worker.events)
        self.busy: str | None = None
        self.searching = False
        self.folder: str | None = None  # the folder whose index is loaded
        self.model = self.session.model_name()
        self.index_dir = str(self.session.index_dir)
        self._attempted = ""  # the folder text last acted on, so focus-out does not repeat it
        self._remembered = False  # the folder being opened is the one remembered from the last run
        install_error_hook(root)
        root.title("pixseek")
        root.minsize(560, 0)
        self._icon = load_icon(root, icon)
        self._build()
        root.protocol("WM_DELETE_WINDOW", self.close)
        self._poll_id = root.after(POLL_MS, self._poll)
        remembered = settings.load(SETTINGS).get("folder")
        if isinstance(remembered, str) and remembered:
            self.folder_var.set(remembered)
            root.after_idle(lambda: self.select_folder(remembered=True))

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        root = self.root
        style = ttk.Style(root)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        frame = ttk.Frame(root, padding=10)
        frame.grid(sticky="nsew")
        root.columnconfigure(0, weight=1)
        root.rowconfigure(0, weight=1)
        frame.columnconfigure(1, weight=1)

        ttk.Label(frame, text="Image folder:").grid(row=0, column=0, sticky="w")
        self.folder_var = tk.StringVar(root)
        self.folder_entry = ttk.Entry(frame, textvariable=self.folder_var, width=60)
        self.folder_entry.grid(row=0, column=1, sticky="ew", padx=5)
        self.folder_entry.bind("<Return>", self._on_folder_enter)
        self.folder_entry.bind("<KP_Enter>", self._on_folder_enter)
        self.folder_entry.bind("<FocusOut>", lambda event: self.select_folder())
        self.browse_folder_button = ttk.Button(frame, text="Browse…", command=self.browse_folder)
        self.browse_folder_button.grid(row=0, column=2)
        self.update_button = ttk.Button(frame, text="Update index", command=self.update_index)
        self.update_button.grid(row=0, column=3, padx=(5, 0))

        self.progress = ttk.Progressbar(frame, mode="determinate")
        self.progress.grid(row=1, column=0, columnspan=3, sticky="ew", pady=(8, 0))
        self.cancel_button = ttk.Button(frame, text="Cancel", command=self.cancel_indexing)
        self.cancel_button.grid(row=1, column=3, sticky="ew", padx=(5, 0), pady=(8, 0))
        self.status_var = tk.StringVar(root, "Choose a folder of images to search.")
        self.status = ttk.Label(frame, textvariable=self.status_var, wraplength=640, justify="left")
        self.status.grid(row=2, column=0, columnspan=4, sticky="w", pady=(6, 0))
        frame.bind("<Configure>", self._wrap_messages)
        ttk.Separator(frame).grid(row=3, column=0, columnspan=4, sticky="ew", pady=10)

        self.mode_var = tk.StringVar(root, "text")
        modes = ttk.Frame(frame)
        modes.grid(row=4, column=0, columnspan=4, sticky="w")
        ttk.Label(modes, text="Search:").pack(side="left")
        self.text_radio = ttk.Radiobutton(modes, text="By text", value="text", variable=self.mode_var,
                                          command=self._show_mode)
        self.text_radio.pack(side="left", padx=(8, 0))
        self.image_radio = ttk.Radiobutton(modes, text="By image", value="image", variable=self.mode_var,
                                           command=self._show_mode)
        self.image_radio.pack(side="left", padx=(8, 0))

        self.query_label = ttk.Label(frame)
        self.query_label.grid(row=5, column=0, sticky="w", pady=(6, 0))
        self.query_var = tk.StringVar(root)
        self.query_entry = ttk.Entry(frame, textvariable=self.query_var)
        self.image_var = tk.StringVar(root)
        self.image_entry = ttk.Entry(frame, textvariable=self.image_var)
        self.browse_image_button = ttk.Button(frame, text="Browse…", command=self.browse_image)

        narrow = ttk.Frame(frame)  # filters: a date range and a camera, as typed in `pixseek search`
        narrow.grid(row=6, column=0, columnspan=4, sticky="ew", pady=(6, 0))
        self.after_var, self.before_var, self.camera_var = tk.StringVar(root), tk.StringVar(root), tk.StringVar(root)
        self.after_entry = self._filter_field(narrow, "Taken from:", self.after_var, 10)
        self.before_entry = self._filter_field(narrow, "before:", self.before_var, 10)
        self.camera_entry = self._filter_field(narrow, "Camera:", self.camera_var, 16)
        self.says_var = tk.StringVar(root)  # words written in the photo (a sign, a receipt)
        self.says_entry = self._filter_field(narrow, "Says:", self.says_var, 16)
        self.people_var = tk.StringVar(root)  # people in the photo, by name, separated by commas
        self.people_entry = self._filter_field(narrow, "People:", self.people_var, 16)
        ttk.Label(narrow, text="(dates as 2023, 2023-06 or 2023-06-15)", foreground="#777").pack(side="left", padx=8)

        bottom = ttk.Frame(frame)
        bottom.grid(row=7, column=0, columnspan=4, sticky="ew", pady=(10, 0))
        ttk.Label(bottom, text="Results (K):").pack(side="left")
        self.k_var = tk.StringVar(root, str(remembered_k()))
        self.k_spinbox = ttk.Spinbox(bottom, from_=1, to=MAX_RESULTS, textvariable=self.k_var, width=4)
        self.k_spinbox.pack(side="left", padx=(5, 0))
        self.about_button = ttk.Button(bottom, text="?", width=3, command=self.about)
        self.about_button.pack(side="right")
        self.search_button = ttk.Button(bottom, text="Search", command=self.search)
        self.search_button.pack(side="right", padx=(0, 5))
        self.found_var = tk.StringVar(root, "")  # what the last search found (the status line is the index's)
        self.found = ttk.Label(frame, textvariable=self.found_var, wraplength=640, justify="left")
        self.found.grid(row=8, column=0, columnspan=3, sticky="w", pady=(6, 0))
        self.open_page_button = ttk.Button(frame, text="Open page", command=self.open_results_page)
        self.open_page_button.grid(row=8, column=3, sticky="e", pady=(6, 0))
        self.open_page_button.grid_remove()
        self.page: SearchPage | None = None  # the last search's results page

        root.bind("<Return>", lambda event: self.search())
        root.bind("<KP_Enter>", lambda event: self.search())
        self._show_mode()
        self._set_busy(None)

    @staticmethod
    def _filter_field(parent: ttk.Frame, label: str, variable: tk.StringVar, width: int) -> ttk.Entry:
        ttk.Label(parent, text=label).pack(side="left", padx=(0 if label.startswith("Taken") else 8, 0))
        entry = ttk.Entry(parent, textvariable=variable, width=width)
        entry.pack(side="left", padx=(5, 0))
        return entry

    def _show_mode(self) -> None:
        """Show the query field for the chosen mode (text, or image path with Browse)."""
        by_image = self.mode_var.get() == "image"
        self.query_label.configure(text="Image:" if by_image else "Query:")
        if by_image:
            self.query_entry.grid_remove()
            self.image_entry.grid(row=5, column=1, columnspan=2, sticky="ew", padx=5, pady=(6, 0))
            self.browse_image_button.grid(row=5, column=3, sticky="ew", padx=(5, 0), pady=(6, 0))
            self.image_entry.focus_set()
        else:
            self.image_entry.grid_remove()
            self.browse_image_button.grid_remove()
            self.query_entry.grid(row=5, column=1, columnspan=3, sticky="ew", padx=(5, 0), pady=(6, 0))
            self.query_entry.focus_set()

    def _wrap_messages(self, event: tk.Event[ttk.Frame]) -> None:
        for label in (self.status, self.found):
            label.configure(wraplength=max(200, event.width - 20))

    def _set_busy(self, busy: str | None) -> None:
        """Enable what makes sense now; the progress row shows only while indexing."""
        self.busy = busy
        idle = "disabled" if busy else "!disabled"
        for widget in (self.update_button, self.browse_folder_button, self.folder_entry):
            widget.state([idle])
        self._enable_search()
        if busy == "index":
            self.progress.grid()
            self.cancel_button.grid()
        else:
            self.progress.stop()
            self.progress.configure(mode="determinate", value=0)
            self.progress.grid_remove()
            self.cancel_button.grid_remove()

    def _enable_search(self) -> None:
        """Search is open unless a search runs or a folder is being opened (not while indexing)."""
        self.search_button.state(["disabled" if self.searching or self.busy == "open" else "!disabled"])

    def _set_searching(self, searching: bool) -> None:
        self.searching = searching
        self._enable_search()

    def _say(self, text: str) -> None:
        self.status_var.set(text)

    # -- worker outcomes ----------------------------------------------------------------------

    def _poll(self) -> None:
        """Drain the workers' queue on the UI thread; only the latest progress is drawn."""
        try:
            for item in drain(self.worker.events):
                if isinstance(item, Progress):
                    self._show_progress(item)
                else:
                    self._deliver(item)
        finally:
            self._poll_id = self.root.after(POLL_MS, self._poll)

    def _deliver(self, outcome: Outcome) -> None:
        if outcome.error is None:
            outcome.on_done(outcome.result)
            return
        if isinstance(outcome.error, IndexIncompatible) and outcome.error.model and outcome.worker is not self.searcher:
            self._set_busy(None)
            if self._offer_rebuild(outcome.error):
                return
        if outcome.worker is self.searcher:
            self._set_searching(False)
            self._show_found(f"Error: {outcome.error}")
        else:
            self._set_busy(None)
            self._say(f"Error: {outcome.error}")
            self._indexing_over()
        show_error(self.root, outcome.error)

    def _show_progress(self, p: Progress) -> None:
        if self.busy != "index":
            return
        if str(self.progress.cget("mode")) != "determinate":
            self.progress.stop()
            self.progress.configure(mode="determinate")
        self.progress.configure(maximum=max(p.total, 1), value=p.done)
        self._say(describe_progress(p))

    # -- folder and index ---------------------------------------------------------------------

    def _on_folder_enter(self, event: tk.Event[ttk.Entry]) -> str:
        self.select_folder(force=True)
        return "break"  # Enter in the folder field selects the folder; it does not search

    def browse_folder(self) -> None:
        self._attempted = self.folder_var.get().strip()  # the dialog takes focus: not a request to open
        chosen = filedialog.askdirectory(parent=self.root, mustexist=True, title="Choose an image folder",
                                         initialdir=self.folder or os.path.expanduser("~"))
        if chosen:
            self.folder_var.set(chosen)
            self.select_folder(force=True)

    def select_folder(self, force: bool = False, remembered: bool = False) -> None:
        """Open the folder in the entry: load its index, offer an update, or index it (asked
        first for the remembered folder: this start may have another index)."""
        text = self.folder_var.get().strip()
        if self.busy or not text or (text == self._attempted and not force):
            return
        self._attempted = text
        self._remembered = remembered
        self.folder = None
        self.page = None
        self._show_found("")  # the last search was in another folder
        self.root.title("pixseek")
        self._set_busy("open")
        self._say(f"Opening {text}…")
        self.worker.submit(self.session.inspect, self._on_inspected, text)

    def _on_inspected(self, state: FolderState) -> None:
        self._set_busy(None)
        self.folder, self.model, self.index_dir = state.folder, state.model, state.index_dir
        self._attempted = state.folder
        self.folder_var.set(state.folder)
        self.root.title(f"pixseek: {os.path.basename(state.folder) or state.folder}")
        settings.save(SETTINGS, folder=state.folder)
        changes = state.changes
        warning = stand_in_warning(state.model)
        warning = f" Warning: {warning}." if warning else ""
        if not state.indexed and self._remembered and not messagebox.askyesno(
                "Index this folder?", f"{state.folder} is not in the index at {state.index_dir}.",
                detail="Index it there now? Choose No to leave this index as it is.", parent=self.root):
            self._say(f"{state.folder} is not indexed here. Click Update index to index it.{warning}")
        elif not state.indexed or changes is None:  # (indexed means changes were found)
            self.update_index()
        elif changes.has_changes:
            if messagebox.askyesno("Index out of date",
                                   f"Since this folder was indexed: {changes.describe()}.",
                                   detail="Update the index now? Only those files are read again.",
                                   parent=self.root):
                self.update_index()
            else:
                self._say(f"Index out of date ({changes.describe()}); searching the previous index. "
                          "Click Update index to bring it up to date.")
        else:
            self._say(f"Ready: {changes.unchanged} images indexed in {state.folder}.{warning}")

    def update_index(self) -> None:
        """Re-scan the current folder and index what is new or changed (in the background)."""
        if self.busy:
            return
        if self.folder is None:  # nothing loaded yet: open what the field names (which indexes it)
            if not self.folder_var.get().strip():
                show_error(self.root, FolderNotFound("no image folder chosen yet: type one, or choose one"))
            self.select_folder(force=True)
            return
        self._start_indexing(f"Scanning {self.folder}…")
        self.worker.submit(self.session.index, self._on_indexed, self.folder, self.worker.report,
                           self.worker.cancel)

    def _start_indexing(self, message: str) -> None:
        """The progress row moving (until the first progress report) and `message` said."""
        self.worker.cancel.clear()
        self._set_busy("index")
        self.progress.configure(mode="indeterminate")
        self.progress.start(15)
        self._say(message)

    def _on_indexed(self, report: IndexReport) -> None:
        self._set_busy(None)
        self._say(describe_report(report, self.folder or ""))
        self._indexing_over()

    def _indexing_over(self) -> None:
        """A search line that said "indexing goes on", or an error that indexing may have fixed,
        no longer holds."""
        if self.page is not None and not self.searching:
            self._show_found(describe_found(self.page, partial=False))
        elif self.found_var.get().startswith("Error: ") and self.busy is None:
            self._show_found("")

    def _offer_rebuild(self, error: IndexIncompatible) -> bool:
        """The index was built with another model than the app's: offer to rebuild it (True if taken)."""
        if not messagebox.askyesno("Index built with another model", str(error),
                                   detail=f"Rebuild the index for {error.model} now? Every photo in it is read again; "
                                          "the index you have keeps answering searches until the new one is complete, "
                                          "and a cancelled rebuild goes on where it stopped next time.",
                                   parent=self.root):
            return False
        self._start_indexing(f"Rebuilding the index for {error.model}…")
        self.worker.submit(self.session.reindex, self._on_rebuilt, error.model, self.worker.report, self.worker.cancel)
        return True

    def _on_rebuilt(self, report: IndexReport) -> None:
        self._set_busy(None)
        self._indexing_over()
        if report.cancelled:
            self._say("Rebuild stopped; the index you had stays in use: " + report.describe())
            return
        self._say("Index rebuilt: " + report.describe())
        self.select_folder(force=True)  # open the folder the rebuild was asked for

    def cancel_indexing(self) -> None:
        self.worker.cancel.set()
        self._say("Cancelling: the batch in flight is saved first…")

    # -- search -------------------------------------------------------------------------------

    def _results_wanted(self) -> int:
        try:
            k = int(self.k_var.get())
        except ValueError:
            k = 0
        if not 1 <= k <= MAX_RESULTS:
            raise InputProblem(f"Results (K) must be a whole number from 1 to {MAX_RESULTS}")
        settings.save(SETTINGS, k=k)
        return k

    def search(self) -> None:
        """Search the current folder (what is indexed so far, while indexing); the results page
        opens in the web browser."""
        if self.searching or self.busy == "open":
            self.root.bell()
            return
        try:
            if self.folder is None:
                raise InputProblem("choose an image folder before searching")
            k = self._results_wanted()
            says, people = self.says_var.get().strip() or None, names_typed(self.people_var.get())
            if self.mode_var.get() == "image":
                query = parse_query(images=[self.image_var.get().strip()], says=says, people=people)
            else:  # the words the photo says, or the people in it, alone are a search too
                typed = self.query_var.get()
                alone = not typed.strip() and (says is not None or bool(people))
                query = parse_query([] if alone else [typed], says=says, people=people)
            filters = SearchFilters.parse(after=self.after_var.get(), before=self.before_var.get(),
                                          camera=self.camera_var.get(), folder=self.folder)
        except PixseekError as error:
            show_error(self.root, error)
            return
        self._set_searching(True)
        self.page = None
        self._show_found(f"Searching for {query.describe()}…")
        self.searcher.submit(self.session.search, self._on_searched, query, k, filters)

    def _show_found(self, text: str) -> None:
        self.found_var.set(text)
        if self.page is not None and text and not text.startswith(("Error: ", "Searching")):
            self.open_page_button.grid()
        else:
            self.open_page_button.grid_remove()

    def _on_searched(self, found: SearchPage) -> None:
        self._set_searching(False)
        self.page = found
        self._show_found(describe_found(found, partial=self.busy == "index"))

    def open_results_page(self) -> None:
        """Hand the last results page to the browser again (after closing it, or when it failed)."""
        if self.page is not None and not open_page(self.page.page):
            self.root.bell()

    def browse_image(self) -> None:
        chosen = filedialog.askopenfilename(parent=self.root, title="Choose an example image",
                                            filetypes=image_types(), initialdir=self.folder)
        if chosen:
            self.image_var.set(chosen)

    # -- the rest -----------------------------------------------------------------------------

    def about(self) -> None:
        show_about(self.root, self.model, self.index_dir, stand_in_warning(self.model))

    def close(self) -> None:
        """Stop indexing (what is committed stays), close the index and the window."""
        self.root.after_cancel(self._poll_id)
        self.searcher.stop()
        self.worker.submit(self.session.close, lambda result: None)
        self.worker.stop()
        self.root.destroy()


def remembered_k() -> int:
    k = settings.load(SETTINGS).get("k")
    return k if isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= MAX_RESULTS else DEFAULT_K


def launch(args: argparse.Namespace) -> int:
    """`pixseek gui`: open the window and run until it is closed."""
    try:
        root = tk.Tk(className="pixseek")
    except tk.TclError as error:
        raise PixseekError(f"cannot open the desktop window ({error}); run `pixseek gui` in a desktop "
                           "session, or use `pixseek search`") from None
    App(root, index=args.index, model=args.model, device=args.device)
    root.mainloop()
    return 0
