# The app in a container: the Hugging Face Space (README front matter: sdk docker, app_port 8501) and anyone else.
# It runs the same command as `make demo`, bound to all interfaces:
#   docker build -t vaegan . && docker run --rm -p 8501:8501 vaegan    ->  http://localhost:8501
FROM python:3.11-slim

# Spaces run the container as uid 1000; that user needs a writable home for Streamlit's and PyTorch's caches.
RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

# Dependencies first, so editing the code does not re-install them. The extra index serves CPU-only torch wheels
# ("+cpu" local versions sort above PyPI's CUDA builds of the same release): a Space has no GPU, and the CUDA
# wheels add gigabytes to the image.
COPY requirements.txt .
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

# The code, the shipped checkpoints/ and the precomputed results/ (see .dockerignore for what stays out).
COPY --chown=user . .
USER user
ENV HOME=/home/user \
    PYTHONUNBUFFERED=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"
CMD ["streamlit", "run", "demo/Home.py", "--server.port", "8501", "--server.address", "0.0.0.0", "--server.headless", "true"]
