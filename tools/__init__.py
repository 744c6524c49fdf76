"""Scripts for the repository itself (machine setup, releases); not part of the bluegreen package."""
