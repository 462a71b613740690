"""The Streamlit web app: a browser face over the Library, started by `pixseek web`.

It renders what the Library returns and never touches files, the model or FAISS itself, so
everything it shows (scores, counts, skipped files) is exactly what the CLI would print.
"""
