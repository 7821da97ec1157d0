// The playground's "Sources" panel: what a job may read — the web (or the server's corpus) and
// the account's own collections — summarised on one line while it is folded.
import { useEffect, useRef } from "react";
import { api, type Schemas, unwrap } from "../../api/client";
import * as fmt from "../../lib/format";
import { Link } from "../../lib/router";
import { useAsync } from "../../lib/useAsync";
import { Async, Checkbox, TextArea, TextField } from "../../ui/kit";

type Request = Schemas["ResearchRequest"];

export type SourceChoice = { web: boolean; collections: string[]; include: string; exclude: string; after: string; before: string };

export const ALL_OF_THE_WEB: SourceChoice = { web: true, collections: [], include: "", exclude: "", after: "", before: "" };

/** Hosts as typed: one per line or separated by commas or spaces. */
const hosts = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/** The `source_policy` of a choice, or none when it restricts nothing. */
function policy(choice: SourceChoice): Request["source_policy"] {
  const rules = {
    ...(hosts(choice.include).length ? { include_domains: hosts(choice.include) } : {}),
    ...(hosts(choice.exclude).length ? { exclude_domains: hosts(choice.exclude) } : {}),
    ...(choice.after ? { after_date: choice.after } : {}),
    ...(choice.before ? { before_date: choice.before } : {}),
  };
  return Object.keys(rules).length ? rules : undefined;
}

/** The request fields for a choice; a default choice adds none (the request stays as it was). */
export function sourceFields(choice: SourceChoice): Pick<Request, "web" | "collections" | "source_policy"> {
  const source_policy = policy(choice);
  const restricted = source_policy ? { source_policy } : {};
  if (!choice.collections.length) return choice.web ? restricted : { web: false, ...restricted };
  return { collections: choice.collections, web: choice.web, ...restricted };
}

function summary(choice: SourceChoice): string {
  const picked = choice.collections.length;
  const collections = picked ? `${picked} collection${picked === 1 ? "" : "s"}` : "";
  const reach = choice.web ? (collections ? `Web + ${collections}` : "Web") : collections ? `${collections} only` : "Nothing to search";
  return policy(choice) ? `${reach} · filtered` : reach;
}

export function SourcesPanel({ value, onChange, errors }: { value: SourceChoice; onChange: (choice: SourceChoice) => void; errors: (string | undefined)[] }) {
  const set = (change: Partial<SourceChoice>) => onChange({ ...value, ...change });
  const collections = useAsync(() => unwrap(api.GET("/api/collections", { params: { query: { limit: 200 } } })), []);
  const toggle = (id: string, on: boolean) =>
    onChange({ ...value, collections: on ? [...value.collections, id] : value.collections.filter((c) => c !== id) });
  const shown = errors.filter(Boolean);
  const panel = useRef<HTMLDetailsElement>(null);
  const problem = shown.join("\n");
  useEffect(() => {
    if (problem && panel.current) panel.current.open = true; // the server named one of these fields
  }, [problem]);
  return (
    <details className="panel" ref={panel}>
      <summary>
        Sources <span className="muted">· {summary(value)}</span>
      </summary>
      <div className="panel-body">
        <Checkbox label="Search the web" hint="Off: only the collections you pick are searched." checked={value.web}
          onChange={(e) => onChange({ ...value, web: e.target.checked })} />
        <fieldset>
          <legend>Your collections</legend>
          <Async state={collections}>
            {(list) =>
              list.length ? (
                <div className="picks">
                  {list.map((c) => (
                    <Checkbox key={c.id} label={c.name} hint={`${fmt.count(c.documents)} document${c.documents === 1 ? "" : "s"}`}
                      checked={value.collections.includes(c.id)} onChange={(e) => toggle(c.id, e.target.checked)} />
                  ))}
                </div>
              ) : (
                <p className="muted small">
                  No collections yet. <Link href="/collections">Upload your files</Link> to research them.
                </p>
              )
            }
          </Async>
        </fieldset>
        <div className="row-2">
          <TextArea label="Only these sites" rows={2} placeholder="europa.eu, who.int" value={value.include} spellCheck={false}
            onChange={(e) => set({ include: e.target.value })} hint="Their subdomains too. Empty: any site." />
          <TextArea label="Never these sites" rows={2} placeholder="example.com" value={value.exclude} spellCheck={false}
            onChange={(e) => set({ exclude: e.target.value })} />
        </div>
        <div className="row-2">
          <TextField label="Published on or after" type="date" value={value.after} onChange={(e) => set({ after: e.target.value })} />
          <TextField label="Published on or before" type="date" value={value.before} onChange={(e) => set({ before: e.target.value })} />
        </div>
        {shown.map((error) => (
          <p key={error} className="field-error" role="alert">{error}</p>
        ))}
      </div>
    </details>
  );
}
