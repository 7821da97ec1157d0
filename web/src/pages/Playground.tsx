// Playground: ask a question, watch the job's live events against its budget, read the cited
// brief, its sources and the typed JSON with per-field basis.
import { type MouseEvent, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, unwrap } from "../api/client";
import { followEvents, type JobEvent, type StreamState } from "../lib/events";
import * as fmt from "../lib/format";
import { checkSchema, EXAMPLE_SCHEMA } from "../lib/jsonSchema";
import { renderBrief } from "../lib/markdown";
import { type Basis, describe, envelope, isTerminal, type ModeId, type ModeInfo, modeName, pathKey, type Progress, quotesByUrl, readPlan, readProgress, type Result, sourceHref } from "../lib/research";
import { Link, setQuery, useLocation } from "../lib/router";
import { useAsync } from "../lib/useAsync";
import { Meter } from "../ui/charts";
import { Alert, Badge, Button, Card, Checkbox, CodeBlock, Empty, ErrorState, FormError, Loading, onSubmit, PageHeader, Select, TextArea, TextField, useSubmit } from "../ui/kit";
import { canExtend, ExtendPanel } from "./playground/ExtendPanel";
import { type Plan, PlanReview } from "./playground/PlanReview";
import { ALL_OF_THE_WEB, type SourceChoice, sourceFields, SourcesPanel } from "./playground/SourcesPanel";

const MAX_TIMELINE = 400;
// BCP 47 tags for `output_language`; empty leaves the language to the sources.
const LANGUAGES = [
  { value: "", label: "Same as the sources" },
  ...[["en", "English"], ["de", "German"], ["fr", "French"], ["es", "Spanish"], ["it", "Italian"], ["nl", "Dutch"], ["pt-BR", "Portuguese (Brazil)"], ["pl", "Polish"], ["ja", "Japanese"], ["zh", "Chinese"]]
    .map(([value, label]) => ({ value, label: `${label} (${value})` })),
];

/** The modes with their prices and budgets, as GET /v1/modes serves them. */
function ModePicker({ modes, mode, onChange }: { modes: ModeInfo[]; mode: ModeId; onChange: (mode: ModeId) => void }) {
  return (
    <fieldset className="modes">
      <legend>Mode</legend>
      {modes.map((m) => (
        <label key={m.mode} className={`mode ${mode === m.mode ? "mode-on" : ""}`}>
          <input type="radio" name="mode" value={m.mode} checked={mode === m.mode} onChange={() => onChange(m.mode)} />
          <span className="mode-name">{modeName(m.mode)}</span>
          <span className="mode-price" title={m.price_note}>{m.price_credits === null ? "metered" : fmt.credits(m.price_credits)}</span>
          <span className="mode-envelope">{envelope(m)}</span>
        </label>
      ))}
    </fieldset>
  );
}

type Job = {
  id: string;
  question?: string;
  mode?: ModeId;
  status: string;
  /** Read as finished when opened: its events are a replay and never change its status. */
  final: boolean;
  events: JobEvent[];
  progress: Progress | null;
  /** What the job proposes to search while it is `awaiting_approval`. */
  plan: Plan | null;
  result: Result | null;
  stream: StreamState;
  streamError?: ApiError;
};

/** The job's state, followed live; a new `round` (after an extension) reads it again. */
function useJob(jobId: string | null, round: number) {
  const [job, setJob] = useState<Job | null>(null);

  useEffect(() => {
    if (!jobId) {
      setJob(null);
      return;
    }
    let stop = () => {};
    let alive = true;
    setJob({ id: jobId, status: "queued", final: false, events: [], progress: null, plan: null, result: null, stream: "connecting" });
    const update = (change: (j: Job) => Job) => alive && setJob((j) => (j && j.id === jobId ? change(j) : j));
    const onEvent = (event: JobEvent) =>
      update((j) => {
        // A finished job replays its events: they fill the timeline, never turn it back to running.
        // An extension starts a finished job over, unless it is part of such a replay.
        const extended = event.type === "job.extended" && !j.final;
        const settled = isTerminal(j.status) && !extended;
        const progress = readProgress(event);
        if (progress) return { ...j, progress, status: settled ? j.status : "running" };
        // A plan waits for approval (plan.ready) until it is approved and queued again (plan.approved).
        const plan = readPlan(event);
        const requeued = extended || event.type === "plan.approved";
        const announced = requeued ? "queued" : plan ? "awaiting_approval" : event.type.startsWith("job.") ? event.type.slice(4) : j.status === "queued" ? "running" : j.status;
        const status = settled && !isTerminal(announced) ? j.status : announced;
        const terminal = isTerminal(status);
        return {
          ...j,
          status,
          events: [...j.events, event].slice(-MAX_TIMELINE),
          plan: plan ?? j.plan,
          // A replay keeps the job as read (the stored result is newer than any replayed event's).
          result: extended ? null : terminal && !j.final && event.data && "id" in event.data ? (event.data as unknown as Result) : j.result,
        };
      });
    const onState = (stream: StreamState, streamError?: ApiError) => update((j) => ({ ...j, stream, streamError }));

    unwrap(api.GET("/api/playground/research/{id}", { params: { path: { id: jobId } } })).then(
      (result) => {
        const finished = isTerminal(result.status) ? { status: result.status, result, final: true } : {};
        const awaiting = result.status === "awaiting_approval" ? { status: result.status, plan: result.plan ?? null } : {};
        update((j) => ({ ...j, question: result.question, mode: result.mode ?? undefined, ...awaiting, ...finished }));
        // Always follow: the API replays a finished job's events (up to its last terminal one:
        // each extension ends once more).
        const ends = (result.extensions?.length ?? 0) + 1;
        stop = followEvents(`/api/playground/research/${jobId}/events`, onEvent, onState, ends);
      },
      (error: ApiError) => update((j) => ({ ...j, stream: "failed", streamError: error })),
    );
    return () => {
      alive = false;
      stop();
    };
  }, [jobId, round]);

  // A terminal event without the result in it (or an unknown shape): read the job instead.
  const needsResult = !!job && isTerminal(job.status) && !job.result;
  useEffect(() => {
    if (!needsResult || !jobId) return;
    unwrap(api.GET("/api/playground/research/{id}", { params: { path: { id: jobId } } })).then(
      (result) => setJob((j) => (j && j.id === jobId ? { ...j, result } : j)),
      () => undefined,
    );
  }, [needsResult, jobId]);

  return job;
}

function Timeline({ events, live }: { events: JobEvent[]; live: boolean }) {
  const end = useRef<HTMLLIElement>(null);
  useEffect(() => {
    end.current?.scrollIntoView({ block: "nearest" }); // returns a Promise in newer browsers: never the effect's result
  }, [events.length]);
  if (!events.length) return <Loading label="Waiting for the first event…" />;
  return (
    <ol className="timeline" aria-live="polite" aria-busy={live}>
      {events.map((event, i) => {
        const { title, detail } = describe(event);
        return (
          <li key={event.id ?? i} className={`tl tl-${event.type.replace(/\./g, "-")}`} ref={i === events.length - 1 ? end : undefined}>
            <span className="tl-dot" aria-hidden="true" />
            <div>
              <p className="tl-title">{title}</p>
              {detail && detail.length > 0 && (
                <ul className="tl-detail">
                  {detail.slice(0, 8).map((d, k) => (
                    <li key={k}>{d}</li>
                  ))}
                </ul>
              )}
            </div>
          </li>
        );
      })}
    </ol>
  );
}

function ProgressPanel({ progress }: { progress: Progress }) {
  return (
    <div className="meters">
      <Meter label="Spend" value={progress.cost_usd} max={progress.max_cost_usd} format={(n) => `$${n.toFixed(3)}`} />
      <Meter label="Time" value={progress.elapsed_secs} max={progress.max_wallclock_secs} format={(n) => `${Math.round(n)} s`} />
      <Meter label="Searches" value={progress.searches} max={progress.max_searches} />
      <Meter label="Pages read" value={progress.pages} max={progress.max_pages} />
      {!!progress.max_waves && <Meter label="Waves" value={progress.waves_done ?? 0} max={progress.max_waves} />}
    </div>
  );
}

function scrollToSource(event: MouseEvent<HTMLElement>) {
  const link = (event.target as HTMLElement).closest<HTMLAnchorElement>("a.cite");
  if (!link) return;
  event.preventDefault();
  const target = document.getElementById(`source-${link.dataset.cite}`);
  if (!target) return;
  target.scrollIntoView({ behavior: "smooth", block: "center" });
  target.classList.remove("flash");
  void target.offsetWidth; // restart the highlight animation
  target.classList.add("flash");
  target.focus({ preventScroll: true });
}

function Brief({ result }: { result: Result }) {
  const html = useMemo(() => renderBrief(result.brief ?? "", result.sources.length), [result.brief, result.sources.length]);
  if (!result.brief) return <Empty title="No brief">This job ended before a brief was written.</Empty>;
  return <article className="brief prose" onClick={scrollToSource} dangerouslySetInnerHTML={{ __html: html }} />;
}

function Sources({ sources, quotes }: { sources: Result["sources"]; quotes: Map<string, string> }) {
  if (!sources.length) return <Empty title="No sources" />;
  return (
    <ol className="sources">
      {sources.map((s, i) => (
        <li key={s.url + i} id={`source-${i + 1}`} tabIndex={-1}>
          <span className="source-n">{i + 1}</span>
          <div>
            <a href={sourceHref(s.url, quotes.get(s.url))} target="_blank" rel="noopener noreferrer" className="source-title">
              {s.title || s.url}
            </a>
            <span className="source-domain">{s.domain}</span>
            {s.summary && <p className="source-summary">{s.summary}</p>}
          </div>
        </li>
      ))}
    </ol>
  );
}

function citationNumber(citation: NonNullable<Basis["citations"]>[number], sources: Result["sources"]): number | null {
  const i = sources.findIndex((s) => s.url === citation.url);
  return i >= 0 ? i + 1 : null;
}

function BasisNote({ basis, sources }: { basis?: Basis; sources: Result["sources"] }) {
  if (!basis) return null;
  const numbers = [...new Set((basis.citations ?? []).map((c) => citationNumber(c, sources)).filter((n): n is number => n !== null))];
  const quote = basis.citations?.find((c) => c.quote)?.quote;
  return (
    <span className="basis" title={quote ? `“${quote}”` : undefined}>
      {basis.confidence && <Badge status={basis.confidence === "high" ? "succeeded" : basis.confidence === "low" ? "failed" : "queued"}>{basis.confidence}</Badge>}
      {numbers.map((n) => (
        <a key={n} href={`#source-${n}`} className="cite" data-cite={n} aria-label={`Source ${n}`}>
          [{n}]
        </a>
      ))}
    </span>
  );
}

function TypedNode({ value, path, basis, sources }: { value: unknown; path: string[]; basis: Map<string, Basis>; sources: Result["sources"] }) {
  const note = <BasisNote basis={basis.get(path.join("."))} sources={sources} />;
  if (value && typeof value === "object" && !Object.keys(value).length)
    return (
      <span className="typed-leaf muted">
        {Array.isArray(value) ? "none" : "—"}
        {note}
      </span>
    );
  if (Array.isArray(value))
    return (
      <>
        {note}
        <ol className="typed-list">
          {value.map((item, i) => (
            <li key={i}>
              <TypedNode value={item} path={[...path, String(i)]} basis={basis} sources={sources} />
            </li>
          ))}
        </ol>
      </>
    );
  if (value && typeof value === "object")
    return (
      <>
        {note}
        <dl className="typed-object">
          {Object.entries(value).map(([key, child]) => (
            <div key={key}>
              <dt>{key}</dt>
              <dd>
                <TypedNode value={child} path={[...path, key]} basis={basis} sources={sources} />
              </dd>
            </div>
          ))}
        </dl>
      </>
    );
  return (
    <span className="typed-leaf">
      <code className={`json-${value === null ? "null" : typeof value}`}>{typeof value === "string" ? value : JSON.stringify(value)}</code>
      {note}
    </span>
  );
}

function TypedView({ result }: { result: Result }) {
  const [raw, setRaw] = useState(false);
  const basis = useMemo(() => {
    const byPath = new Map<string, Basis>();
    for (const b of result.basis ?? []) byPath.set(pathKey(b.field), b);
    return byPath;
  }, [result.basis]);
  if (!result.typed || !Object.keys(result.typed).length) return <Empty title="No typed output" />;
  return (
    <div onClick={scrollToSource}>
      <div className="segmented" role="group" aria-label="Typed output view">
        <button type="button" aria-pressed={!raw} onClick={() => setRaw(false)}>Fields</button>
        <button type="button" aria-pressed={raw} onClick={() => setRaw(true)}>JSON</button>
      </div>
      {raw ? (
        <CodeBlock code={JSON.stringify(result.typed, null, 2)} label="Copy JSON" />
      ) : (
        <TypedNode value={result.typed} path={[]} basis={basis} sources={result.sources} />
      )}
    </div>
  );
}

function JobPanel({ job, modes, onExtended, onFollowUp }: { job: Job; modes?: ModeInfo[]; onExtended: () => void; onFollowUp: () => void }) {
  const cancel = useSubmit(() => unwrap(api.DELETE("/api/playground/research/{id}", { params: { path: { id: job.id } } })));
  const running = !isTerminal(job.status);
  const result = job.result;
  return (
    <>
      <Card
        title={
          <>
            Job <Badge status={job.status} />
            {result?.stop_reason === "no_evidence" && <span className="muted"> · No relevant sources found</span>}
          </>
        }
        actions={
          running && (
            <Button variant="danger" small busy={cancel.busy} onClick={() => void cancel.run()}>
              Cancel
            </Button>
          )
        }
      >
        <FormError error={cancel.error} />
        {job.streamError && <ErrorState error={job.streamError} />}
        {job.stream === "reconnecting" && <Alert kind="warning">Connection lost — reconnecting…</Alert>}
        {result?.stop_reason === "no_evidence" && (
          <Alert kind="info" title="No relevant sources found">
            Nothing the search returned bears on this question, so the brief says so and cites nothing. Only provider spend is charged: {fmt.credits(result.credits_charged)}.
          </Alert>
        )}
        {result && result.stop_reason !== "no_evidence" && (
          <p className="muted small">
            {fmt.credits(result.credits_charged)} charged · {fmt.usd(result.cost_usd)} provider cost · {fmt.latency(result.latency_ms)}
            {result.stop_reason ? ` · stopped: ${result.stop_reason}` : ""}
            {result.extensions?.length ? ` · extended ${result.extensions.length}×` : ""}
          </p>
        )}
        {job.question && (
          <p className="job-question">
            <strong>Question:</strong> {job.question}
          </p>
        )}
        {result?.error && <Alert kind="error">{result.error}</Alert>}
        <div className="job-grid">
          <div>
            <h3 className="h3">Live events</h3>
            {job.events.length || running ? (
              <Timeline events={job.events} live={running} />
            ) : (
              <p className="muted">{job.stream === "ended" || job.stream === "failed" ? "This job's events are no longer kept." : "Loading events…"}</p>
            )}
          </div>
          <div>
            <h3 className="h3">Budget</h3>
            {job.progress ? <ProgressPanel progress={job.progress} /> : <p className="muted">{running ? "Waiting for progress…" : "No progress recorded."}</p>}
          </div>
        </div>
      </Card>
      {job.status === "awaiting_approval" && job.plan && (
        <PlanReview key={job.id} jobId={job.id} plan={job.plan} maxQueries={modes?.find((m) => m.mode === job.mode)?.budgets.branches} />
      )}
      {result && (
        <div className="result-grid">
          <Card title="Brief" className="result-brief">
            <Brief result={result} />
          </Card>
          <Card title={`Sources (${result.sources.length})`} className="result-sources">
            <Sources sources={result.sources} quotes={quotesByUrl(result.basis as Basis[] | undefined)} />
          </Card>
          <Card title="Typed output" className="result-typed">
            <TypedView result={result} />
          </Card>
        </div>
      )}
      {result && result.status === "succeeded" && (
        <Card title="Continue this research">
          <p>
            <Button onClick={onFollowUp}>Ask a follow-up</Button>
          </p>
          {modes && canExtend(result) && <ExtendPanel result={result} modes={modes} onExtended={onExtended} />}
        </Card>
      )}
    </>
  );
}

export function PlaygroundPage() {
  const { query } = useLocation();
  const jobId = query.get("job");
  const [round, setRound] = useState(0);
  const job = useJob(jobId, round);
  const balance = useAsync(() => unwrap(api.GET("/api/credits/balance")), [job?.status]);
  const modes = useAsync(() => unwrap(api.GET("/v1/modes")), []);
  const [question, setQuestion] = useState("");
  const [mode, setMode] = useState<ModeId>("standard");
  const [maxCredits, setMaxCredits] = useState("500");
  const [sources, setSources] = useState<SourceChoice>(ALL_OF_THE_WEB);
  const [language, setLanguage] = useState("");
  const [reviewPlan, setReviewPlan] = useState(false);
  const followUpTo = query.get("follow_up");
  const [withSchema, setWithSchema] = useState(false);
  const [schemaText, setSchemaText] = useState(EXAMPLE_SCHEMA);
  const schema = withSchema ? checkSchema(schemaText) : {};
  // Reopening a job (from Logs, Overview or a link) puts its question back in the box.
  const reopenedQuestion = job?.question;
  useEffect(() => {
    if (reopenedQuestion) setQuestion((current) => current || reopenedQuestion);
  }, [reopenedQuestion]);

  const run = useSubmit(async () => {
    const accepted = await unwrap(
      api.POST("/api/playground/research", {
        body: {
          question,
          mode,
          async: true,
          ...(mode === "max" ? { max_credits: Number(maxCredits) } : {}),
          ...(schema.schema ? { response_schema: schema.schema } : {}),
          ...sourceFields(sources),
          ...(language ? { output_language: language } : {}),
          ...(followUpTo ? { previous_job_id: followUpTo } : {}),
          ...(reviewPlan ? { plan_approval: true } : {}),
        },
      }),
    );
    setQuery({ job: accepted.id, follow_up: null });
  });
  // A follow-up keeps the earlier job on screen and puts an empty question box in front of it.
  const followUp = () => {
    setQuestion("");
    setQuery({ follow_up: jobId });
    window.scrollTo(0, 0);
    document.querySelector<HTMLTextAreaElement>(".playground-form textarea")?.focus();
  };
  const schemaError = schema.error ?? run.fields.response_schema;
  const policyErrors = Object.entries(run.fields).filter(([field]) => field.startsWith("source_policy")).map(([, message]) => message);
  const price = modes.data?.find((m) => m.mode === mode)?.price_credits;

  return (
    <>
      <PageHeader
        title="Playground"
        description="Run a research job from the browser and watch it work. Jobs here are billed like API calls."
        actions={balance.data && <span className="pill">Balance: {fmt.credits(balance.data.credits)}</span>}
      />
      <Card>
        <form onSubmit={onSubmit(() => !schema.error && void run.run())} noValidate className="playground-form">
          <FormError error={run.error} />
          {run.error?.code === "insufficient_credits" && (
            <p>
              <Link href="/billing">Buy credits</Link> to run this mode.
            </p>
          )}
          {followUpTo && (
            <Alert kind="info" title="A follow-up">
              <p>It starts from the earlier job's findings and sources, and researches only what your new question adds.</p>
              <Button small variant="ghost" onClick={() => setQuery({ follow_up: null })}>
                Ask a new question instead
              </Button>
            </Alert>
          )}
          <TextArea label="Question" rows={3} required value={question} onChange={(e) => setQuestion(e.target.value)}
            error={run.fields.question} placeholder="What changed in EU battery regulation in 2025, and who is affected?" />
          {modes.data ? <ModePicker modes={modes.data} mode={mode} onChange={setMode} /> : <Loading />}
          {mode === "max" && (
            <TextField label="Credit cap" type="number" min={1} inputMode="numeric" value={maxCredits}
              onChange={(e) => setMaxCredits(e.target.value)} error={run.fields.max_credits}
              hint="Max is metered: you pay for what it uses, never more than this cap." />
          )}
          <SourcesPanel value={sources} onChange={setSources} errors={[run.fields.web, run.fields.collections, ...policyErrors]} />
          <Select label="Answer language" options={LANGUAGES} value={language} onChange={(e) => setLanguage(e.target.value)}
            error={run.fields.output_language} className="language-field" />
          <Checkbox label="Review the plan before searching" hint="The job stops after planning; you edit or approve its queries, then it searches them."
            checked={reviewPlan} onChange={(e) => setReviewPlan(e.target.checked)} />
          <Checkbox label="Return typed JSON that follows my schema" checked={withSchema} onChange={(e) => setWithSchema(e.target.checked)} />
          {withSchema && (
            <TextArea label="JSON Schema" className="mono" rows={10} spellCheck={false} value={schemaText}
              onChange={(e) => setSchemaText(e.target.value)} error={schemaError}
              hint={schema.schema ? "✓ Valid JSON Schema shape" : undefined} />
          )}
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={run.busy} disabled={!question.trim() || !!schema.error}>
              Run research{price ? ` · ${fmt.credits(price)}` : ""}
            </Button>
            {jobId && (
              <Button variant="ghost" onClick={() => setQuery({ job: null })}>
                Clear result
              </Button>
            )}
          </div>
        </form>
      </Card>
      {job && job.stream === "connecting" && !job.events.length && !job.result ? <Loading label="Opening the job…" /> : job && <JobPanel job={job} modes={modes.data} onExtended={() => setRound((r) => r + 1)} onFollowUp={followUp} />}
    </>
  );
}
