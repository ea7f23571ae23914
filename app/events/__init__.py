"""Server-sent events per park: the event outbox as a resumable stream for dashboards."""
