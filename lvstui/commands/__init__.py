"""One module per `lvstui` sub-command; `lvstui.cli` imports them lazily."""
