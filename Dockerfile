# The bluegreen action. GitHub builds this for `uses: our-org/bluegreen@v1`; releases publish it
# prebuilt as ghcr.io/our-org/bluegreen (`uses: docker://ghcr.io/our-org/bluegreen:v1`), which
# saves the build on every run.
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
