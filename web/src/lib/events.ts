// Follows a job's server-sent events over fetch (so the token travels in a header, not the
// URL), resuming with Last-Event-ID after a dropped connection until the terminal event.
// Event types and their data come from the API's OpenAPI `ResearchEvent` union.
import { ApiError, type Schemas, sessionFetch, toApiError } from "../api/client";
import { ResearchEventTypeValues, TerminalJobStatusValues } from "../api/enums";

/** A known event, typed by its `type`; `id` is the stream position (for Last-Event-ID). */
export type ResearchEvent = Schemas["ResearchEvent"] & { id?: string };
/** An event type this dashboard does not know yet (the API may add some): shown by name. */
export type UnknownEvent = { id?: string; type: string; data: Record<string, unknown>; unknown: true };
export type JobEvent = ResearchEvent | UnknownEvent;
export type StreamState = "connecting" | "live" | "reconnecting" | "ended" | "failed";

const KNOWN_TYPES = new Set<string>(ResearchEventTypeValues);
export const TERMINAL_EVENTS = new Set<string>(TerminalJobStatusValues.map((status) => `job.${status}`));

/** The event as its declared type when the type is known (the server is trusted on the data). */
export function typedEvent(id: string | undefined, type: string, data: Record<string, unknown>): JobEvent {
  if (KNOWN_TYPES.has(type)) return { id, type, data } as ResearchEvent;
  return { id, type, data, unknown: true };
}

function parseBlock(block: string): JobEvent | null {
  let id: string | undefined;
  let type = "message";
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = value;
    else if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  const text = data.join("\n");
  try {
    const parsed = JSON.parse(text);
    return typedEvent(id, type, parsed && typeof parsed === "object" ? parsed : { value: parsed });
  } catch {
    return typedEvent(id, type, { text });
  }
}

async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: JobEvent) => void): Promise<void> {
  const decoder = new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>;
  const reader = body.pipeThrough(decoder).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = blocks.pop() ?? "";
    for (const block of blocks) {
      const event = parseBlock(block);
      if (event) onEvent(event);
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stream `path` until `ends` terminal events (a job extended n times ends n + 1 times: the
 * server closes the stream at each, and Last-Event-ID picks up after it) or `stop()`. */
export function followEvents(
  path: string,
  onEvent: (event: JobEvent) => void,
  onState: (state: StreamState, error?: ApiError) => void,
  ends = 1,
): () => void {
  const controller = new AbortController();
  let lastId: string | undefined;
  let finished = false;
  let ended = 0;

  const run = async () => {
    for (let attempt = 0; !finished && !controller.signal.aborted; attempt++) {
      onState(attempt ? "reconnecting" : "connecting");
      let closedAtEnd = false; // the server closed the stream at a terminal event, and more follow
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const response = await sessionFetch(
          new Request(new URL(path, window.location.origin), { headers, signal: controller.signal }),
        );
        if (!response.ok || !response.body) {
          const error = toApiError(response.status, await response.json().catch(() => undefined));
          if (response.status < 500) return onState("failed", error);
          throw error;
        }
        onState("live");
        attempt = 0;
        await readEvents(response.body, (event) => {
          if (event.id) lastId = event.id;
          closedAtEnd = TERMINAL_EVENTS.has(event.type);
          if (closedAtEnd) finished = ++ended >= ends;
          onEvent(event);
        });
      } catch {
        if (controller.signal.aborted) return;
      }
      if (closedAtEnd) attempt = -1; // no failure: pick up after it straight away
      else if (!finished) await sleep(Math.min(500 * 2 ** attempt, 8000));
    }
    if (!controller.signal.aborted) onState("ended");
  };
  void run();
  return () => controller.abort();
}
