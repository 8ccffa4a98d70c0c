"""The demo collection shipped with Granary: Cold War international history documents."""
