"""`secmon serve`: the access-log service for users and team admins (HTTP API, web page, sign-out-all)."""
