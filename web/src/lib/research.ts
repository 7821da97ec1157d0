// Research modes as the contract describes them, and how the playground reads job events.
import type { Schemas } from "../api/client";
import type { JobEvent } from "./events";

export type ModeId = "lite" | "standard" | "pro" | "max";

/** Prices and envelopes of the contract's ResearchMode (DESIGN §3; 1 credit = US$0.01). */
export const MODES: { id: ModeId; name: string; credits: number | null; envelope: string }[] = [
  { id: "lite", name: "Lite", credits: 15, envelope: "1 wave · 6 pages · up to 1 min" },
  { id: "standard", name: "Standard", credits: 60, envelope: "2 waves · 20 pages · up to 5 min" },
  { id: "pro", name: "Pro", credits: 200, envelope: "4 waves · 60 pages · up to 15 min" },
  { id: "max", name: "Max", credits: null, envelope: "8 waves · 160 pages · up to 30 min · set a cap" },
];

export type Result = Schemas["ResearchResult"];

/** One entry of `basis`: the citations and confidence behind one typed field. */
export type Basis = {
  field?: string;
  path?: string;
  confidence?: string;
  citations?: { n?: number; url?: string; title?: string; quote?: string }[];
};

export const isTerminal = (status: string) => ["succeeded", "failed", "canceled"].includes(status);

/** A basis path ("key_findings[0].claim", "/key_findings/0/claim") as segments. */
export const pathKey = (path: string) => path.split(/[.[\]/]+/).filter(Boolean).join(".");

const text = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const countOf = (...values: unknown[]) => {
  for (const v of values) {
    if (Array.isArray(v)) return v.length;
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return 0;
};
const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;

/** One line (and optional details) for the timeline; unknown event types are shown by name. */
export function describe(event: JobEvent): { title: string; detail?: string[] } {
  const d = event.data;
  const queries = list(d.queries).map(text).filter(Boolean);
  switch (event.type) {
    case "job.queued":
      return { title: "Queued" };
    case "job.started":
      return { title: "A worker started the job" };
    case "job.cancel_requested":
      return { title: "Cancel requested" };
    case "plan":
      return { title: queries.length ? `Planned ${plural(queries.length, "search", "searches")}` : "Planned the research", detail: queries };
    case "wave.started":
      return { title: `Wave ${text(d.wave)} started${queries.length ? ` with ${plural(queries.length, "query", "queries")}` : ""}`.replace("  ", " "), detail: queries };
    case "search": {
      const n = countOf(d.results, d.result_count);
      return { title: `Searched “${text(d.query)}”${n ? ` · ${plural(n, "result")}` : ""}` };
    }
    case "source":
      return { title: `Read ${text(d.title) || text(d.domain) || "a source"}`, detail: text(d.url) ? [text(d.url)] : undefined };
    case "branch.failed":
      return { title: `A search branch failed${text(d.error) ? `: ${text(d.error)}` : ""}` };
    case "wave.completed": {
      const claims = countOf(d.claims, d.claim_count, d.new_claims);
      return { title: `Wave ${text(d.wave)} completed${claims ? ` · ${plural(claims, "claim")}` : ""}`.replace("  ", " ") };
    }
    case "gate": {
      const go = d.continue ?? d.continue_research;
      const reason = text(d.stop_reason) || text(d.reason);
      return { title: go ? "Budget gate: another wave" : `Budget gate: stop${reason ? ` (${reason})` : ""}` };
    }
    case "synthesis.started":
      return { title: "Writing the brief" };
    case "critic": {
      const dropped = countOf(d.dropped, d.dropped_claims);
      return { title: `Critic checked the claims${dropped ? ` · dropped ${dropped}` : ""}`, detail: list(d.notes).map(text).filter(Boolean) };
    }
    case "cast":
      return { title: "Cast the brief into typed JSON" };
    case "job.succeeded":
      return { title: "Research complete" };
    case "job.failed":
      return { title: `Failed${text(d.error) ? `: ${text(d.error)}` : ""}` };
    case "job.canceled":
      return { title: "Canceled" };
    default:
      return { title: event.type };
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
  const d = event.data as Partial<Progress>;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  if (event.type !== "progress") return null;
  return {
    stage: typeof d.stage === "string" ? d.stage : undefined,
    elapsed_secs: n(d.elapsed_secs), max_wallclock_secs: n(d.max_wallclock_secs),
    cost_usd: n(d.cost_usd), max_cost_usd: n(d.max_cost_usd),
    searches: n(d.searches), max_searches: n(d.max_searches),
    pages: n(d.pages), max_pages: n(d.max_pages),
    waves_done: n(d.waves_done), max_waves: n(d.max_waves),
  };
}

const CORPUS = "corpus://";

/** A text-fragment directive (`#:~:text=start,end`) that makes the browser scroll to and
 * highlight the quote on the source page; long quotes are named by their first and last words. */
export function textFragment(quote: string): string {
  const words = quote.split(/\s+/).filter(Boolean);
  const enc = (s: string) => encodeURIComponent(s).replace(/-/g, "%2D");
  if (words.length <= 8) return `#:~:text=${enc(words.join(" "))}`;
  return `#:~:text=${enc(words.slice(0, 4).join(" "))},${enc(words.slice(-4).join(" "))}`;
}

/** Where a citation link goes: the web page at its quote, or the dashboard's corpus viewer for a
 * `corpus://` document (the API serves its stored text; the server path is never exposed). */
export function sourceHref(url: string, quote?: string): string {
  if (url.startsWith(CORPUS)) {
    const query = new URLSearchParams({ path: url.slice(CORPUS.length), ...(quote ? { quote } : {}) });
    return `/corpus?${query}`;
  }
  return quote && /^https?:/.test(url) ? url + textFragment(quote) : url;
}

/** The first quote each source is cited for, by URL. */
export function quotesByUrl(basis: Basis[] | undefined): Map<string, string> {
  const quotes = new Map<string, string>();
  for (const b of basis ?? []) for (const c of b.citations ?? []) if (c.url && c.quote && !quotes.has(c.url)) quotes.set(c.url, c.quote);
  return quotes;
}
