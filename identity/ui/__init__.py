"""The identity pages of the admin: profile page, review pair, model page. Selectors and
small server-side charts here; the admin classes only wire them to URLs."""
