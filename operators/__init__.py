"""App operators: parse the form, call the bridge, report. No algorithm lives here."""
