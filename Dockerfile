# The app in a container: the Hugging Face Space (README front matter: sdk docker, app_port 8501) and anyone else.
# It runs the same command as `make demo`, bound to all interfaces. The defaults are what a Space builds:
#   docker build -t vaegan . && docker run --rm -p 8501:8501 vaegan    ->  http://localhost:8501
# No `# syntax=` line on purpose: that would make BuildKit pull docker/dockerfile from Docker Hub; the builder's own
# frontend handles everything here. `RUN --mount` needs BuildKit, which Spaces and current `docker build` use
# (with the older standalone daemon: DOCKER_BUILDKIT=1 docker build ...).
#
# Build arguments, all optional (docs/space.md builds it on a machine with no Docker Hub and no PyTorch index):
#   BASE_IMAGE       an image with Python 3.11+ and its venv module (Debian's python3 + python3-venv will do).
#   TORCH_INDEX_URL  the extra index torch comes from; the default serves CPU-only wheels.
#   PIP_FIND_LINKS, PIP_CONSTRAINT, PIP_INDEX_URL
#                    read by pip itself, declared so that they can be passed (a folder of local wheels, a pin);
#                    build arguments are not kept in the image's environment.
#   APP_DIGITS       "download" (the default): fetch the 10,000 binarized-MNIST test digits into the user's cache and
#                    score the first-visit numbers on them (`vaegan app precompute`); "none": a build with no
#                    internet, whose pages then score model samples (and a visitor may download the digits).
#   and a build secret `pip_cert` (docker build --secret id=pip_cert,src=CA.pem) for a machine whose package index
#   sits behind its own certificate authority; the certificate is never written into a layer.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS
ARG PIP_CONSTRAINT
ARG PIP_INDEX_URL

# Spaces run the container as uid 1000; that user needs a writable home for Streamlit's, PyTorch's and the Hugging
# Face caches. The app itself lives outside it, in /app, owned by root: the user can read it but not change it,
# on a Space as in `bench/space.py`, which also runs the whole root file system read-only.
RUN useradd --create-home --uid 1000 user

# A virtual environment: Debian's own python3 refuses `pip install` into the system (PEP 668), python:3.11-slim does
# not, and a venv behaves the same on both.
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, so that editing the code does not re-install them. The extra index serves CPU-only torch
# wheels ("+cpu" local versions sort above PyPI's CUDA builds of the same release): a Space has no GPU, and the CUDA
# wheels add gigabytes to the image (docs/space.md has the measured sizes of both).
COPY requirements.txt .
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    pip install --extra-index-url "$TORCH_INDEX_URL" -r requirements.txt

# The package itself, from a bind mount of the build context: a non-editable install leaves no build/ or egg-info
# behind in /app, and the sources do not need to be in the image twice.
RUN --mount=type=bind,target=/src,rw --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    pip install --no-deps /src && python -c "import vaegan"

# What the app reads at run time: its pages, the shipped checkpoints/, the precomputed results/ and Streamlit's
# config (.dockerignore keeps the rest of the repository out of the build context).
COPY demo/ demo/
COPY checkpoints/ checkpoints/
COPY results/ results/
COPY .streamlit/ .streamlit/
# The numbers a first visit would compute (the VAE page's reference scores and measurements, "VAE vs GAN"'s scores),
# computed once here, so that no visitor of a cold-started Space waits for them (vaegan.precomputed).
ARG APP_DIGITS=download
RUN if [ "$APP_DIGITS" = download ]; then \
        HOME=/home/user vaegan app precompute --download && chown -R user:user /home/user/.cache; \
    else vaegan app precompute; fi

USER user
ENV HOME=/home/user \
    PYTHONUNBUFFERED=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "demo/Home.py", "--server.port", "8501", "--server.address", "0.0.0.0", "--server.headless", "true"]
