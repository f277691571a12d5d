// A small fault-injecting HTTP proxy in front of a real server (127.0.0.1 only): it forwards every request and
// response as is, except the requests it is told to break — `hang` forwards the first part of the streamed response
// and then goes silent without closing; `malformed` corrupts the first SSE event's JSON.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type StreamFault = "hang" | "malformed";

export async function startFaultProxy(
  upstream: string,
  faults: Record<number, StreamFault>,
): Promise<{ url: string; close: () => Promise<void>; served: () => number }> {
  let count = 0;
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const fault = req.url?.startsWith("/v1/") ? faults[count++] : undefined;
    const forward = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        let first = true;
        upstreamRes.on("data", (chunk: Buffer) => {
          if (fault === "hang" && !first) return; // silent from here on; the socket stays open
          let out = chunk.toString("utf8");
          if (fault === "malformed" && first) out = out.replace("data: {", 'data: {"choices": [ broken');
          first = false;
          res.write(out);
        });
        upstreamRes.on("end", () => fault !== "hang" && res.end());
      },
    );
    forward.on("error", (e) => res.destroy(e));
    req.pipe(forward);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served: () => count,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
