"""upsd: the NUT network server."""
