"""The library: writing outputs with their metadata, and finding, exporting, showing and checking them."""
