"""One module per page: ``PATH``, ``NAV_KEY``, ``layout(lang, **query)`` and ``register_callbacks(app)``.

Pages are registered by ``dashboards.app.create_app`` (not Dash's folder scan), so each app gets its own callbacks
and the modules can be imported by tests without registering anything twice."""
