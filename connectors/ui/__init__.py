"""The audience sync pages of the admin: what a marketer reads about a sync and its runs."""
