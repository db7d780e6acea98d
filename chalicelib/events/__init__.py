"""Stream and schedule handlers: parse the event, call services, report partial failures."""
