#!/usr/bin/env bash
# Runs the agent host's model client, then the approval and rollback flows once each, against a
# real llama.cpp server (opt-in; see README "Real model check"). Builds the server and fetches the model first if needed (setup.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${REAL_LLM_DIR:-$ROOT/target/real-llm}"
"$ROOT/tests/real-llm/setup.sh"
SRC="$DIR/$(cat "$DIR/src-dir")"
PORT="${REAL_LLM_PORT:-18080}"
"$DIR/build/bin/llama-server" -m "$DIR/model/SmolLM2-135M-Instruct.Q4_1.gguf" --host 127.0.0.1 --port "$PORT" \
  --jinja -c 8192 -t 2 --chat-template-file "$SRC/models/templates/Qwen-Qwen2.5-7B-Instruct.jinja" \
  > "$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
cd "$ROOT"
export REAL_LLM_URL="http://127.0.0.1:$PORT/v1"
# The model client's wire checks, then both flows once (the safety properties, not quality).
cargo test -p agent-host --test real_llm -- --ignored --nocapture
cargo test -p e2e --test it real_llm -- --ignored --nocapture --test-threads 1
