"""Context tables (users, assets, tickets, allowed ports): models, file loader, store, CLI."""
