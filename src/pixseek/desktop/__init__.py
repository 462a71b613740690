"""The Tk desktop app: a thin face over the Library (`pixseek gui`).

app.py lays out the window and reacts to the user; worker.py runs every engine call on one
background thread and hands results back through a queue; session.py is what runs there;
results_page.py writes the HTML page the browser shows; settings.py remembers the folder;
dialogs.py turns errors into dialogs that say how to fix them.
"""
