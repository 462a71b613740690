"""Videos: their moments decoded with PyAV (frames.py) and what their containers say (info.py).
The video pass (engine/video_pass.py) indexes them; engine/video_search.py searches them."""
