"""upsmon and upssched."""
