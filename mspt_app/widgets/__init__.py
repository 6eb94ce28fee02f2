"""Qt widgets: the main window and the views it is made of."""
