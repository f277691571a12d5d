// One streamed OpenAI-compatible request: sends it, parses the SSE body incrementally (eventsource-parser: several
// events per read, a role-only first chat chunk, no `[DONE]` from some servers) and timestamps every event with
// performance.now() at the read that delivered it. Token counts come from the final `usage`, never from chunks.
import http from "node:http";
import https from "node:https";
import { createParser } from "eventsource-parser";

export interface StreamTarget {
  /** Base URL, e.g. http://127.0.0.1:8000 (the `/v1/...` path is appended). */
  url: string;
  api: "completions" | "chat";
  /** Sent as `Authorization: Bearer …`; never copied into a result, error or log. */
  apiKey?: string;
  /** Extra request fields this endpoint accepts (e.g. vLLM's `ignore_eos`, `min_tokens`). */
  extras?: Record<string, unknown>;
  /** Whether to send `stream_options: {include_usage: true}` (OpenAI, vLLM, transformers serve accept it). */
  streamOptions: boolean;
  agent?: http.Agent;
}

export interface StreamRequest {
  model: string;
  prompt: string;
  maxTokens: number;
  timeoutMs: number;
  /** Aborting it cancels the request (the connection is closed): a duration-bound point's `inFlight: "cancel"`. */
  signal?: AbortSignal;
}

/** What one request measured; times are performance.now() values (ms). */
export interface StreamResult {
  status: "ok" | "error" | "timeout" | "cancelled";
  httpStatus: number | null;
  error?: string;
  sentAt: number;
  /** Arrival time of each event that carried generated text. */
  contentTimes: number[];
  /** The generated text (not stored: tests compare what two served models answer). */
  text: string;
  endAt: number;
  promptTokens: number | null;
  outputTokens: number | null;
  finishReason?: string;
}

const MAX_ERROR_BODY = 300;

/** The text a completions or chat chunk carries ("" for a role-only or usage-only chunk). */
function chunkText(chunk: Record<string, unknown>): string {
  const choice = (chunk.choices as Array<Record<string, unknown>> | undefined)?.[0];
  if (!choice) return "";
  if (typeof choice.text === "string") return choice.text;
  const delta = choice.delta as { content?: unknown } | undefined;
  return typeof delta?.content === "string" ? delta.content : "";
}

export function buildBody(target: StreamTarget, request: StreamRequest): string {
  const body: Record<string, unknown> = {
    model: request.model,
    max_tokens: request.maxTokens,
    stream: true,
    temperature: 0,
    ...(target.api === "chat" ? { messages: [{ role: "user", content: request.prompt }] } : { prompt: request.prompt }),
    ...(target.streamOptions ? { stream_options: { include_usage: true } } : {}),
    ...target.extras,
  };
  return JSON.stringify(body);
}

/**
 * Sends one request and resolves when its stream ends, fails or times out; never rejects. `onSent` is called with
 * the send time just before the request body is written.
 */
export function streamRequest(
  target: StreamTarget,
  request: StreamRequest,
  body = buildBody(target, request),
): Promise<StreamResult> {
  return new Promise((resolve) => {
    const url = new URL(
      `${target.url.replace(/\/$/, "")}/v1/${target.api === "chat" ? "chat/completions" : "completions"}`,
    );
    const contentTimes: number[] = [];
    let text = "";
    let promptTokens: number | null = null;
    let outputTokens: number | null = null;
    let finishReason: string | undefined;
    let settled = false;
    let httpStatus: number | null = null;
    let streamError: string | undefined;
    let readAt = 0;
    let sentAt = 0;
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      accept: "text/event-stream",
      "content-length": Buffer.byteLength(body),
    };
    if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
    const finish = (status: StreamResult["status"], error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onCancel);
      // A server may echo request headers in an error body: the key never leaves this function.
      const scrubbed = error && target.apiKey ? error.split(target.apiKey).join("[API key]") : error;
      resolve({
        status,
        httpStatus,
        ...(scrubbed ? { error: scrubbed } : {}),
        sentAt,
        contentTimes,
        text,
        endAt: performance.now(),
        promptTokens,
        outputTokens,
        ...(finishReason ? { finishReason } : {}),
      });
    };
    const parser = createParser({
      onEvent: (event) => {
        if (streamError) return;
        if (event.data === "[DONE]") return;
        let chunk: Record<string, unknown>;
        try {
          chunk = JSON.parse(event.data) as Record<string, unknown>;
        } catch {
          streamError = `malformed SSE event (not JSON): ${JSON.stringify(event.data.slice(0, 80))}`;
          return;
        }
        if (chunk.error !== undefined) {
          const e = chunk.error as { message?: unknown } | string;
          streamError =
            `server error in stream: ${typeof e === "string" ? e : String(e.message ?? JSON.stringify(e))}`.slice(
              0,
              MAX_ERROR_BODY,
            );
          return;
        }
        const piece = chunkText(chunk);
        if (piece !== "") {
          contentTimes.push(readAt);
          text += piece;
        }
        const reason = (chunk.choices as Array<{ finish_reason?: unknown }> | undefined)?.[0]?.finish_reason;
        if (typeof reason === "string") finishReason = reason;
        const usage = chunk.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined | null;
        if (usage) {
          if (typeof usage.prompt_tokens === "number") promptTokens = usage.prompt_tokens;
          if (typeof usage.completion_tokens === "number") outputTokens = usage.completion_tokens;
        }
      },
      onError: (error) => {
        if (error.type === "invalid-retry" || error.type === "unknown-field") return; // ignored by the SSE spec
        streamError = `malformed SSE: ${error.message}`;
      },
    });
    const transport = url.protocol === "https:" ? https : http;
    const req = transport.request(url, { method: "POST", headers, agent: target.agent }, (res) => {
      httpStatus = res.statusCode ?? null;
      res.setEncoding("utf8");
      if (httpStatus !== 200) {
        let text = "";
        res.on("data", (d: string) => (text.length < MAX_ERROR_BODY ? (text += d) : undefined));
        res.on("end", () => finish("error", `HTTP ${httpStatus}: ${text.slice(0, MAX_ERROR_BODY).trim()}`));
        res.on("error", () => finish("error", `HTTP ${httpStatus}`));
        return;
      }
      res.on("data", (d: string) => {
        readAt = performance.now();
        parser.feed(d);
        if (streamError) {
          req.destroy();
          finish("error", streamError);
        }
      });
      res.on("end", () => {
        // A last event without its blank line is flushed by a final feed of the terminator.
        readAt = performance.now();
        parser.feed("\n\n");
        finish(streamError ? "error" : "ok", streamError);
      });
      res.on("error", (e) => finish("error", `stream broke: ${e.message}`));
      res.on("aborted", () => finish("error", "the server closed the stream before it ended"));
    });
    req.on("error", (e) => finish("error", `request failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    const timer = setTimeout(() => {
      finish(
        "timeout",
        `no end of stream within ${request.timeoutMs} ms (${contentTimes.length} content events received)`,
      );
      req.destroy();
    }, request.timeoutMs);
    const onCancel = () => {
      finish(
        "cancelled",
        `cancelled: in flight when the point's duration ended (${contentTimes.length} content events received)`,
      );
      req.destroy();
    };
    if (request.signal?.aborted) {
      sentAt = performance.now();
      return onCancel();
    }
    request.signal?.addEventListener("abort", onCancel, { once: true });
    sentAt = performance.now();
    req.end(body);
  });
}
