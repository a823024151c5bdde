"""The studio's routers; each reads what it needs from ``request.app.state`` (see :mod:`stylo.web.app`)."""
