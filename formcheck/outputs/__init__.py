"""Outputs: the report records and their JSON schema, drawing on frames, the HTML report, the history."""
