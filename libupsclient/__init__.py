"""libupsclient: a client library for the NUT network protocol (sync and asyncio)."""
