"""People, teams, services and integration credentials that every other app references."""
