"""Drivers: the driver core (NUT drivers/main.c + dstate.c), each driver, upsdrvctl, shared transports."""
