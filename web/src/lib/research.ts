// Research modes as GET /v1/modes lists them, and how the playground reads job events.
import type { Schemas } from "../api/client";
import type { JobEvent } from "./events";
import { TERMINAL_EVENTS } from "./events";

export type ModeId = Schemas["ResearchMode"];
export type ModeInfo = Schemas["ModeInfo"];
export type Result = Schemas["ResearchResult"];
/** One entry of `basis`: the citations and confidence behind one typed field. */
export type Basis = Schemas["BasisEntry"];

const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;

export const modeName = (mode: ModeId) => mode.charAt(0).toUpperCase() + mode.slice(1);

/** "2 waves · 20 pages · up to 5 min", from a mode's budgets. */
export function envelope(info: ModeInfo): string {
  const b = info.budgets;
  const minutes = Math.max(1, Math.round(b.max_wallclock_secs / 60));
  return [plural(b.max_waves, "wave"), plural(b.max_pages, "page"), `up to ${minutes} min`, ...(info.metered ? ["set a cap"] : [])].join(" · ");
}

export const isTerminal = (status: string) => TERMINAL_EVENTS.has(`job.${status}`);

/** A basis path ("key_findings[0].claim", "/key_findings/0/claim") as segments. */
export const pathKey = (path: string) => path.split(/[.[\]/]+/).filter(Boolean).join(".");

/** One line (and optional details) for the timeline; unknown event types are shown by name. */
export function describe(event: JobEvent): { title: string; detail?: string[] } {
  if ("unknown" in event) return { title: event.type };
  switch (event.type) {
    case "job.queued":
      return { title: "Queued" };
    case "job.started":
      return { title: "A worker started the job" };
    case "job.cancel_requested":
      return { title: "Cancel requested" };
    case "job.extended":
      return { title: `Continued in ${modeName(event.data.mode)} · ${plural(event.data.credits_reserved, "more credit", "more credits")} reserved` };
    case "plan.ready":
      return { title: "The plan waits for your approval", detail: event.data.plan.queries };
    case "plan.approved":
      return { title: `Plan approved with ${plural(event.data.queries.length, "query", "queries")}`, detail: event.data.queries };
    case "plan": {
      const queries = event.data.queries;
      return { title: queries.length ? `Planned ${plural(queries.length, "search", "searches")}` : "Planned the research", detail: queries };
    }
    case "wave.started": {
      const queries = event.data.queries;
      return { title: `Wave ${event.data.wave} started${queries.length ? ` with ${plural(queries.length, "query", "queries")}` : ""}`, detail: queries };
    }
    case "search": {
      const n = event.data.results;
      return { title: `Searched “${event.data.query}”${n ? ` · ${plural(n, "result")}` : ""}` };
    }
    case "source":
      return { title: `Read ${event.data.title || event.data.domain || "a source"}`, detail: event.data.url ? [event.data.url] : undefined };
    case "branch.failed":
      return { title: `A search branch failed${event.data.error ? `: ${event.data.error}` : ""}` };
    case "wave.completed": {
      const claims = event.data.claims;
      return { title: `Wave ${event.data.wave} completed${claims ? ` · ${plural(claims, "claim")}` : ""}` };
    }
    case "gate": {
      const reason = event.data.stop_reason ?? event.data.reason;
      return { title: event.data.continue ? "Budget gate: another wave" : `Budget gate: stop${reason ? ` (${reason})` : ""}` };
    }
    case "synthesis.started":
      return { title: "Writing the brief" };
    case "critic": {
      const dropped = event.data.dropped;
      return { title: `Critic checked the claims${dropped ? ` · dropped ${dropped}` : ""}`, detail: event.data.notes.filter(Boolean) };
    }
    case "cast":
      return { title: "Cast the brief into typed JSON" };
    case "progress":
      return { title: `Progress: ${event.data.stage}` };
    case "job.succeeded":
      return { title: "Research complete" };
    case "job.failed":
      return { title: `Failed${event.data.error ? `: ${event.data.error}` : ""}` };
    case "job.canceled":
      return { title: "Canceled" };
  }
}

export type Progress = {
  stage?: string;
  elapsed_secs: number;
  max_wallclock_secs: number;
  cost_usd: number;
  max_cost_usd: number;
  searches: number;
  max_searches: number;
  pages: number;
  max_pages: number;
  waves_done?: number;
  max_waves?: number;
};

export function readProgress(event: JobEvent): Progress | null {
  if ("unknown" in event || event.type !== "progress") return null;
  const { stage, elapsed_secs, max_wallclock_secs, cost_usd, max_cost_usd, searches, max_searches, pages, max_pages, waves_done, max_waves } = event.data;
  return { stage, elapsed_secs, max_wallclock_secs, cost_usd, max_cost_usd, searches, max_searches, pages, max_pages, waves_done, max_waves };
}

/** The plan a `plan.ready` event proposes (the job now waits for its approval). */
export function readPlan(event: JobEvent): Schemas["ResearchPlan"] | null {
  return "unknown" in event || event.type !== "plan.ready" ? null : event.data.plan;
}

const CORPUS = "corpus://";
const COLLECTION = /^collection:\/\/([^/]+)\/([^/?#]+)$/;

/** A text-fragment directive (`#:~:text=start,end`) that makes the browser scroll to and
 * highlight the quote on the source page; long quotes are named by their first and last words. */
export function textFragment(quote: string): string {
  const words = quote.split(/\s+/).filter(Boolean);
  const enc = (s: string) => encodeURIComponent(s).replace(/-/g, "%2D");
  if (words.length <= 8) return `#:~:text=${enc(words.join(" "))}`;
  return `#:~:text=${enc(words.slice(0, 4).join(" "))},${enc(words.slice(-4).join(" "))}`;
}

/** Where a citation link goes: the web page at its quote, or the dashboard's viewer of the stored
 * text for a `corpus://` document (the server path is never exposed) or a `collection://` one. */
export function sourceHref(url: string, quote?: string): string {
  if (url.startsWith(CORPUS)) {
    const query = new URLSearchParams({ path: url.slice(CORPUS.length), ...(quote ? { quote } : {}) });
    return `/corpus?${query}`;
  }
  const inCollection = COLLECTION.exec(url);
  if (inCollection) return `/collections/${inCollection[1]}/documents/${inCollection[2]}${quote ? `?${new URLSearchParams({ quote })}` : ""}`;
  return quote && /^https?:/.test(url) ? url + textFragment(quote) : url;
}

/** The first quote each source is cited for, by URL. */
export function quotesByUrl(basis: Basis[] | undefined): Map<string, string> {
  const quotes = new Map<string, string>();
  for (const b of basis ?? []) for (const c of b.citations ?? []) if (c.url && c.quote && !quotes.has(c.url)) quotes.set(c.url, c.quote);
  return quotes;
}
