"""Kafka as secmon uses it: topic names and creation (topics), client options (config), and how
records are encoded on the wire (codec). No Faust agent and no detection logic lives here."""
