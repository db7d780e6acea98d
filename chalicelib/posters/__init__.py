"""Personalised posters: fonts, layouts and rendering."""
