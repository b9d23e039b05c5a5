"""The on-disk state, laid out as Docker's overlay2 driver and layer store lay it out."""
