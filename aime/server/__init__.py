"""The server side of AIME: the gunicorn worker class and what gunicorn.conf.py's hooks do.

This package imports nothing on its own: gunicorn loads the worker class, and gunicorn.conf.py its hooks,
in the master, and the hooks module must not be imported before on_starting has set
PROMETHEUS_MULTIPROC_DIR (see gunicorn.conf.py).
"""
