"""Private implementations behind `kerasx.callbacks`."""
