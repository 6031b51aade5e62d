# The chat on the official Deno image: non-root, KV in a volume, every module
# cached at build so a start fetches nothing.
#
#   docker build -t deno-chat .
#   docker run -p 8000:8000 -e COOKIE_SECRET="$(openssl rand -hex 32)" \
#     -v chat-data:/app/data deno-chat
FROM denoland/deno:2.9.3

WORKDIR /app

# The server's npm packages as a layer of their own, rebuilt only when
# deno.json or deno.lock change (test packages are in a scope that
# deno install leaves alone).
COPY deno.json deno.lock ./
RUN deno install

COPY . .
# Every module main.ts loads, and the Redis bus it loads only when REDIS_URL
# is set (compose.yaml sets it). The image's user `deno` owns the cache and
# ./data, nothing else.
RUN deno install --entrypoint main.ts lib/cluster/redis_bus.ts \
  && mkdir -p data \
  && chown -R deno:deno /deno-dir data

# HOST, not HOSTNAME: Docker sets HOSTNAME to the container's name.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    KV_PATH=/app/data/chat.db
VOLUME /app/data
EXPOSE 8000

USER deno

# The liveness route; the image has no curl, so Deno fetches it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD deno eval --no-config "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '8000') + '/healthz', { signal: AbortSignal.timeout(3000) }).catch(() => null); Deno.exit(r?.ok ? 0 : 1)"

# deno task start's command and permissions (deno.json), run directly so
# the signal reaches the server (the image's tini is PID 1).
CMD ["deno", "run", "--allow-net", "--allow-env", "--allow-read=.", "--allow-write=./data", "--allow-run=deno", "main.ts"]
