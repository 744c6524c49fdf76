"""bluegreen: zero-downtime blue-green deploys of docker-compose apps over SSH."""

__version__ = "0.1.0"
