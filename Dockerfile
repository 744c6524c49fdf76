# The bluegreen action. GitHub builds this for a `uses:` of an unreleased commit; a release
# publishes it prebuilt to ghcr.io and tags an action.yml that runs that image, which saves the
# build on every run (.github/workflows/release.yml).
FROM python:3.11.17-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY requirements.txt /action/requirements.txt
RUN pip install -r /action/requirements.txt

COPY action.yml /action/action.yml
COPY bluegreen/ /action/bluegreen/
COPY entrypoint.py /action/entrypoint.py
# Byte-compile now so every run starts without compiling.
RUN python -m compileall -q /action

ENTRYPOINT ["/usr/local/bin/python", "/action/entrypoint.py"]
