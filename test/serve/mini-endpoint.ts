// A minimal OpenAI-compatible streaming endpoint for measuring the load client alone (`npm run bench:serve-client`)
// and for the client's parser tests: it answers /v1/completions and /v1/chat/completions at once with `tokens` text
// events, several per write, a role-only first chat chunk, usage in the last chunk and no `[DONE]`. 127.0.0.1 only.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface MiniEndpointOptions {
  /** Delay between writes (ms); 0 writes everything at once. */
  gapMs?: number;
  /** Events per write. */
  eventsPerWrite?: number;
  /** Send `data: [DONE]` at the end (default false: some servers do not). */
  done?: boolean;
}

export async function startMiniEndpoint(
  options: MiniEndpointOptions = {},
): Promise<{ url: string; close: () => Promise<void>; requests: () => number; lastAuth: () => string | undefined }> {
  let count = 0;
  let lastAuth: string | undefined;
  const server = http.createServer((req, res) => {
    if (req.url === "/health") return void res.end('{"status":"ok"}');
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      count++;
      lastAuth = req.headers.authorization;
      const body = JSON.parse(raw) as { max_tokens?: number; model?: string; messages?: unknown };
      const chat = req.url === "/v1/chat/completions";
      const tokens = body.max_tokens ?? 4;
      res.writeHead(200, { "content-type": "text/event-stream" });
      const events: string[] = [];
      const chunk = (extra: Record<string, unknown>) =>
        `data: ${JSON.stringify({ id: "x", model: body.model, ...extra })}\n\n`;
      if (chat) events.push(chunk({ choices: [{ index: 0, delta: { role: "assistant" } }] }));
      for (let i = 0; i < tokens; i++)
        events.push(
          chunk({ choices: [{ index: 0, ...(chat ? { delta: { content: ` t${i}` } } : { text: ` t${i}` }) }] }),
        );
      events.push(
        chunk({
          choices: [{ index: 0, finish_reason: "length", ...(chat ? { delta: {} } : { text: "" }) }],
          usage: { prompt_tokens: 8, completion_tokens: tokens, total_tokens: 8 + tokens },
        }),
      );
      if (options.done) events.push("data: [DONE]\n\n");
      const per = options.eventsPerWrite ?? 3;
      const writes: string[] = [];
      for (let i = 0; i < events.length; i += per) writes.push(events.slice(i, i + per).join(""));
      const gap = options.gapMs ?? 0;
      if (gap === 0) return void res.end(writes.join(""));
      let w = 0;
      const step = () => {
        if (w === writes.length) return void res.end();
        res.write(writes[w++]);
        setTimeout(step, gap);
      };
      step();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    lastAuth: () => lastAuth,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

// Run as a process (the client benchmark keeps it off the client's event loop): prints its URL on stdout.
if (import.meta.url === `file://${process.argv[1]}`) {
  const endpoint = await startMiniEndpoint({ eventsPerWrite: Number(process.env.EVENTS_PER_WRITE ?? 3) });
  process.stdout.write(`${endpoint.url}\n`);
}
