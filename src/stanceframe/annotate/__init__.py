"""Label your own articles: a local annotation app (store, project, queue, app, export,
agreement), each module one job. ``stanceframe annotate`` is the command over it."""
